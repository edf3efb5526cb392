"""Seeded hostile files for every reader: byte-level damage of valid files, structural
mutations (JSON values, HDF5 layout, NPY headers, CSV cells) and small bombs.

``make_corpus(root, cases, seed)`` writes ``cases`` files per format under ``root/<format>/`` and
returns ``[(format, reader, path), ...]``; ``reader`` is a name known to
:mod:`tests.memory_probe`. Every file is small (a bomb is small on disk by definition).
"""
from __future__ import annotations

import copy
import gzip
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from tests import bombs

MB = bombs.MB
HOSTILE_VALUES = [None, True, False, 0, -1, 1, 2 ** 31, 2 ** 63, 10 ** 30, -10 ** 30, 1e308,
                  -1e-308, 0.5, "", "x", "'; import os; '", "\u2028\x00", [], [1, 2], [[[]]],
                  {}, {"class_name": "X"}, {"class_name": 1, "config": []}, [None] * 5,
                  "a" * 1000, [1e30] * 3, {"a": {"b": {"c": []}}}, [-7, 5, 1e30],
                  ["x", 0, 0], [["x", 0, 0]]]
JSON_SPECIALS = ["1" + "0" * 400, "1" + "0" * 5000, "1e400", "-1e400", "NaN", "Infinity",
                 "[" * 5000 + "]" * 5000, '"\\ud800"', "0.1e-99999"]


# ------------------------------------------------------------------------------ byte damage
def damage(data: bytes, r: np.random.Generator) -> bytes:
    """One of: bit flips, a cut, a random span overwritten, an inserted span, a repeated span."""
    data = bytearray(data)
    kind = int(r.integers(0, 5))
    n = len(data)
    if kind == 0:
        for _ in range(int(r.integers(1, 24))):
            data[int(r.integers(0, n))] ^= 1 << int(r.integers(0, 8))
    elif kind == 1:
        data = data[:int(r.integers(0, n))]
    elif kind == 2:
        at, size = int(r.integers(0, n)), int(r.integers(1, 64))
        fill = r.choice([b"\x00", b"\xff", None])
        data[at:at + size] = (fill * size) if fill is not None else \
            bytes(r.integers(0, 256, size, dtype=np.uint8))
    elif kind == 3:
        at = int(r.integers(0, n))
        data[at:at] = bytes(r.integers(0, 256, int(r.integers(1, 64)), dtype=np.uint8))
    else:
        at, size = int(r.integers(0, n)), int(r.integers(1, 256))
        data[at:at] = data[at:at + size] * int(r.integers(2, 50))
    return bytes(data)


def mutate_json(obj, r: np.random.Generator):
    """``obj`` with one value somewhere in it replaced by a hostile one (or one key dropped)."""
    obj = copy.deepcopy(obj)
    paths = []

    def walk(o, path):
        paths.append(path)
        if isinstance(o, dict):
            for k, v in o.items():
                walk(v, path + [k])
        elif isinstance(o, list):
            for i, v in enumerate(o):
                walk(v, path + [i])
    walk(obj, [])
    path = paths[int(r.integers(0, len(paths)))]
    if not path:
        return HOSTILE_VALUES[int(r.integers(0, len(HOSTILE_VALUES)))]
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and r.random() < 0.15:
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(HOSTILE_VALUES[int(r.integers(0, len(HOSTILE_VALUES)))])
    return obj


def json_text(obj, r: np.random.Generator) -> str:
    """JSON of ``obj``, sometimes with a raw hostile token spliced in for a number."""
    text = json.dumps(obj)
    if r.random() < 0.25:
        digits = [i for i, c in enumerate(text) if c.isdigit()]
        if digits:
            at = digits[int(r.integers(0, len(digits)))]
            text = text[:at] + JSON_SPECIALS[int(r.integers(0, len(JSON_SPECIALS)))] + \
                text[at + 1:]
    return text


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


# ------------------------------------------------------------------------------ .loom
def _seed_project():
    from engine.graph import GraphDocument
    from engine.project import Project, RunRecord
    g = GraphDocument("fuzz")
    i = g.add_node("InputLayer", {"shape": [6]})
    h = g.add_node("Dense", {"units": 5, "activation": "relu"}, name="hidden")
    o = g.add_node("Dense", {"units": 3, "activation": "softmax"}, name="out")
    g.connect(i.id, h.id)
    g.connect(h.id, o.id)
    p = Project(g)
    p.data_source = {"kind": "npz", "path": "d.npz"}
    p.add_run(RunRecord(history={"loss": [1.0, 0.5]}, status="completed", finished=1.0))
    p.store_weights(p.build_model())
    return p


def _weights_h5(arrays: dict[str, list[np.ndarray]], r: np.random.Generator) -> bytes:
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        names = list(arrays)
        for name in names:
            g = f.create_group(name)
            for k, a in enumerate(arrays[name]):
                choice = r.random()
                if choice < 0.08:
                    a = np.zeros(tuple(int(v) for v in r.integers(1, 9, a.ndim)), np.float32)
                elif choice < 0.12:
                    a = a.astype(np.int32)
                elif choice < 0.15:
                    g.create_dataset(str(k), shape=(1 << 28,), dtype="f4", chunks=(4096,))
                    continue
                elif choice < 0.17:
                    g[str(k)] = h5py.ExternalLink("/etc/hostname", "/x")
                    continue
                elif choice < 0.19:
                    continue                                   # a weight missing
                g.create_dataset(str(k), data=a)
        if r.random() < 0.1 and names:
            del f[names[int(r.integers(0, len(names)))]]       # a layer missing
        if r.random() < 0.05:
            f.create_dataset("stray", data=np.zeros(3))
    return buf.getvalue()


def loom_cases(root: Path, n: int, r: np.random.Generator) -> list[Path]:
    from engine.project import save_project
    from engine.project.file import project_json
    p = _seed_project()
    good = save_project(p, root / "seed.loom").read_bytes()
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        doc = json.loads(z.read("project.json"))
    weights = {k: [np.asarray(a) for a in v] for k, v in p.weights.items()}
    assert project_json(p)["graph"] == doc["graph"]
    out = []
    for k in range(n):
        path = root / f"c{k:04d}.loom"
        kind = k % 6
        if kind in (0, 1):
            path.write_bytes(damage(good, r))
        elif kind in (2, 3):
            members = {"project.json": json_text(mutate_json(doc, r), r).encode()}
            if r.random() < 0.8:
                members["weights.h5"] = _weights_h5(weights, r)
            path.write_bytes(_zip(members))
        elif kind == 4:
            path.write_bytes(_zip({"project.json": json.dumps(doc).encode(),
                                   "weights.h5": _weights_h5(weights, r)}))
        else:
            which = int(r.integers(0, 5))
            if which == 0:
                bombs.loom_weights_bomb(path, int(r.integers(300, 1200)) * MB)
            elif which == 1:
                bombs.loom_json_bomb(path, int(r.integers(70, 400)) * MB,
                                     declared=int(r.choice([100, 0, 10 ** 9])))
            elif which == 2:
                bombs.loom_json_objects(path, int(r.integers(10, 40)))
            elif which == 3:
                path.write_bytes(_zip({"project.json": json.dumps(doc).encode(),
                                       "../x": b"", "weights.h5": b"x"}))
            else:
                bad = bombs.small_project_json(units=int(r.choice([10 ** 7, 10 ** 12, 2 ** 40])))
                path.write_bytes(_zip({"project.json": bad}))
        out.append(path)
    return out


# ------------------------------------------------------------------------------ .h5
def h5_cases(root: Path, n: int, r: np.random.Generator) -> list[Path]:
    from engine import Input
    from engine.layers import Dense
    from engine.models import Model
    x = Input(shape=(5,), name="x")
    model = Model(x, Dense(2, name="d2")(Dense(4, activation="relu", name="d1")(x)), name="m")
    seed = root / "seed.h5"
    model.save(seed)
    good = seed.read_bytes()
    with h5py.File(seed, "r") as f:
        config = json.loads(f.attrs["model_config"])
    out = []
    for k in range(n):
        path = root / f"c{k:04d}.h5"
        kind = k % 6
        if kind in (0, 1):
            path.write_bytes(damage(good, r))
        else:
            path.write_bytes(good)
            with h5py.File(path, "r+") as f:
                if kind in (2, 3):
                    f.attrs["model_config"] = json_text(mutate_json(config, r), r)
                elif kind == 4:
                    _mutate_weights(f["model_weights"], r)
                else:
                    _h5_trap(f, r)
        out.append(path)
    return out


def _mutate_weights(group, r: np.random.Generator) -> None:
    layer = ["d1", "d2"][int(r.integers(0, 2))]
    g = group[layer]
    names = [n.decode() for n in g.attrs["weight_names"]]
    name = names[int(r.integers(0, len(names)))]
    what = int(r.integers(0, 8))
    if what == 0:
        del g[name]
    elif what == 1:
        del g[name]
        g.create_dataset(name, data=np.zeros((int(r.integers(1, 50)),), np.float32))
    elif what == 2:
        del g[name]
        g.create_dataset(name, data=np.array([b"text"]))
    elif what == 3:
        g.attrs["weight_names"] = np.array([b"nope"] * int(r.integers(0, 4)))
    elif what == 4:
        group.attrs["layer_names"] = np.array([b"d1", b"zz"])
    elif what == 5:
        del group[layer]
    elif what == 6:
        g.attrs["weight_names"] = np.arange(3)
    else:
        del g[name]
        g[name] = h5py.SoftLink(f"/model_weights/{layer}/{name}")     # a loop


def _h5_trap(f, r: np.random.Generator) -> None:
    what = int(r.integers(0, 6))
    if what == 0:
        del f["model_weights"]
    elif what == 1:
        g = f["model_weights/d1"]
        name = g.attrs["weight_names"][0].decode()
        del g[name]
        g[name] = h5py.ExternalLink("other.h5", "/kernel")
    elif what == 2:
        g = f["model_weights/d1"]
        name = g.attrs["weight_names"][0].decode()
        del g[name]
        g.create_dataset(name, shape=(1 << 40,), dtype="f4", chunks=(1 << 16,))
    elif what == 3:
        g = f["model_weights/d1"]
        name = g.attrs["weight_names"][0].decode()
        del g[name]
        layout = h5py.VirtualLayout(shape=(5, 4), dtype="f4")
        layout[:] = h5py.VirtualSource("other.h5", "x", shape=(5, 4))
        g.create_virtual_dataset(name, layout)
    elif what == 4:
        f.attrs["model_config"] = np.arange(10)
    else:
        f.attrs["training_config"] = json.dumps({"optimizer_config": {"class_name": 5},
                                                 "loss": [[[]]]})


# ------------------------------------------------------------------------------ data files
CSV_CELLS = ["1", "-2.5", "3e2", "", "NA", "nan", "inf", "1e39", "1e309", "1e19", "1e300",
             "cat", "dog", '"q"', '"a,b"', '"open', 'x"y', " 4 ", "0x10", "1_000", "\u00e9",
             "\r", '""', "?", "-0", "9" * 400]


def csv_cases(root: Path, n: int, r: np.random.Generator) -> list[Path]:
    out = []
    for k in range(n):
        path = root / f"c{k:04d}.csv"
        cols = int(r.integers(1, 7))
        delim = [",", ";", "\t", "|"][int(r.integers(0, 4))]
        lines = []
        rate = float(r.choice([0.0, 0.0, 0.02, 0.3]))       # share of hostile cells
        if r.random() < 0.6:
            lines.append(delim.join(f"c{j}" for j in range(cols)))
        for _ in range(int(r.integers(0, 40))):
            width = cols if r.random() < 0.85 else int(r.integers(0, cols + 3))
            cells = [CSV_CELLS[int(r.integers(0, len(CSV_CELLS)))] if r.random() < rate else
                     f"{r.standard_normal():.3f}" for _ in range(width)]
            lines.append(delim.join(cells))
        text = ("\r\n" if r.random() < 0.2 else "\n").join(lines)
        data = text.encode("utf-8" if r.random() < 0.9 else "latin-1", "replace")
        if r.random() < 0.1:
            data = damage(data or b"a", r)
        path.write_bytes(data)
        out.append(path)
    return out


NPY_DESCRS = ["<f4", "<f8", ">i2", "|u1", "|b1", "<U5", "|S3", "|O", "<c8", "|V8", "<M8[s]",
              "xx", "<f4'", "<f99999"]
NPY_SHAPES = [("(3, 4)", (3, 4)), ("(12,)", (12,)), ("()", ()),
              ("(1000000000000,)", (10 ** 12,)), ("(-1,)", None), ("((3,)", None),
              ("(3,))", None), ("(3.5,)", None), ("(" + "9" * 30 + ",)", None),
              ("(" + ", ".join(["1"] * 33) + ")", None), ("[3, 4]", None),
              ("(65536, 65536, 65536)", (65536,) * 3)]


def _npy(r: np.random.Generator) -> bytes:
    if r.random() < 0.3:
        buf = io.BytesIO()
        np.save(buf, r.standard_normal((3, 4)).astype(np.float32))
        return damage(buf.getvalue(), r)
    descr = NPY_DESCRS[int(r.integers(0, len(NPY_DESCRS)))]
    shape, dims = NPY_SHAPES[int(r.integers(0, len(NPY_SHAPES)))]
    fortran = ["False", "True", "1", "'no'"][int(r.integers(0, 4))]
    header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}"
    if r.random() < 0.2:
        header = header.replace("}", ", 'extra': __import__('os'), }")
    header = header.ljust(118) + "\n"
    version = bytes([int(r.choice([1, 1, 2, 3, 9])), 0])
    size = len(header).to_bytes(2 if version[0] == 1 else 4, "little")
    try:
        itemsize = np.dtype(descr).itemsize
    except TypeError:
        itemsize = 4
    exact = int(np.prod(dims)) * itemsize if dims is not None else 48
    length = exact if exact < 10 ** 5 and r.random() < 0.7 else int(r.integers(0, 200))
    body = bytes(r.integers(0, 256, length, dtype=np.uint8))
    return b"\x93NUMPY" + version + size + header.encode() + body


def npy_cases(root: Path, n: int, r: np.random.Generator) -> list[Path]:
    out = []
    for k in range(n):
        if k % 2:
            path = root / f"c{k:04d}.npy"
            path.write_bytes(_npy(r))
        else:
            path = root / f"c{k:04d}.npz"
            kind = int(r.integers(0, 4))
            if kind == 0:
                members = {f"a{j}.npy": _npy(r) for j in range(int(r.integers(1, 4)))}
                path.write_bytes(_zip(members, zipfile.ZIP_DEFLATED if r.random() < 0.5 else
                                      zipfile.ZIP_STORED))
            elif kind == 1:
                buf = io.BytesIO()
                np.savez_compressed(buf, x=np.zeros((40, 4), np.float32), y=np.arange(40))
                path.write_bytes(damage(buf.getvalue(), r))
            elif kind == 2:
                bombs.npz_bomb(path, int(r.integers(300, 1200)) * MB,
                               declared_small=bool(r.random() < 0.5))
            else:
                buf = io.BytesIO()
                np.savez(buf, x=np.array([{"a": 1}], dtype=object))
                path.write_bytes(buf.getvalue())
        out.append(path)
    return out


def idx_cases(root: Path, n: int, r: np.random.Generator) -> list[Path]:
    out = []
    for k in range(n):
        gz = r.random() < 0.5
        path = root / f"c{k:04d}.idx{'.gz' if gz else ''}"
        kind = int(r.integers(0, 4))
        if kind == 3 and gz:
            bombs.idx_gz_bomb(path, int(r.integers(300, 1200)) * MB,
                              trailer=bool(r.random() < 0.5))
            out.append(path)
            continue
        dtype_code = int(r.choice([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07, 0xFF]))
        ndim = int(r.integers(0, 6))
        dims = [int(r.choice([0, 1, 3, 28, 65536, 2 ** 32 - 1])) if r.random() < 0.3 else
                int(r.integers(1, 6)) for _ in range(ndim)]
        header = bytes([0, 0, dtype_code, ndim]) + b"".join(d.to_bytes(4, "big") for d in dims)
        itemsize = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}.get(dtype_code, 1)
        count = int(np.prod(dims)) if dims else 1
        length = count * itemsize if count < 10 ** 5 else 16
        if r.random() < 0.3:
            length = max(0, length + int(r.integers(-8, 8)))
        body = bytes(r.integers(0, 256, length, dtype=np.uint8)) if r.random() < 0.9 else b""
        data = header + body
        if kind == 1:
            data = damage(data, r)
        if gz:
            data = gzip.compress(data)
            if kind == 2:
                data = data[:-8] if r.random() < 0.5 else damage(data, r)
        path.write_bytes(data)
        out.append(path)
    return out


def hdf5_data_cases(root: Path, n: int, r: np.random.Generator) -> list[Path]:
    seed = root / "seed.h5"
    with h5py.File(seed, "w") as f:
        f.create_dataset("x_train", data=r.standard_normal((20, 3)).astype(np.float32))
        f.create_dataset("y_train", data=np.arange(20))
    good = seed.read_bytes()
    out = []
    for k in range(n):
        path = root / f"c{k:04d}.h5"
        if k % 3 == 0:
            path.write_bytes(damage(good, r))
            out.append(path)
            continue
        path.write_bytes(good)
        with h5py.File(path, "r+") as f:
            what = int(r.integers(0, 9))
            if what == 0:
                del f["x_train"]
                f["x_train"] = h5py.ExternalLink("/etc/passwd", "/x")
            elif what == 1:
                del f["x_train"]
                f.create_dataset("x_train", shape=(int(r.integers(1, 40)) * 10 ** 8,),
                                 dtype="f4", chunks=(1 << 16,), fillvalue=1.0)
            elif what == 2:
                del f["x_train"]
                layout = h5py.VirtualLayout(shape=(20, 3), dtype="f4")
                layout[:] = h5py.VirtualSource("elsewhere.h5", "x", shape=(20, 3))
                f.create_virtual_dataset("x_train", layout)
            elif what == 3:
                del f["x_train"]
                f.create_dataset("x_train", data=np.array([b"a", b"b"]))
            elif what == 4:
                del f["y_train"]
                f.create_dataset("y_train", data=np.zeros(3, dtype=[("a", "i4"), ("b", "f4")]))
            elif what == 5:
                del f["x_train"]
                f["x_train"] = h5py.SoftLink("/x_train")
            elif what == 6:
                del f["x_train"]
                f.create_dataset("x_train", shape=(4, 3), dtype="f4",
                                 external=[(str(root / "raw.bin"), 0, 48)])
            elif what == 7:
                g = f.create_group("deep")
                for _ in range(int(r.integers(1, 80))):
                    g = g.create_group("g")
                g.create_dataset("x", data=np.zeros(2))
            else:
                f.create_dataset("x_big", shape=(1 << 20, 1 << 20), dtype="f8",
                                 chunks=(64, 64))
        out.append(path)
    return out


def image_cases(root: Path, n: int, r: np.random.Generator) -> list[Path]:
    from PIL import Image
    seeds = {}
    for fmt, mode in (("PNG", "RGB"), ("JPEG", "RGB"), ("BMP", "RGB"), ("GIF", "P"),
                      ("TIFF", "RGB"), ("PNG", "L")):
        buf = io.BytesIO()
        img = Image.fromarray(r.integers(0, 256, (12, 16, 3), dtype=np.uint8)).convert(mode)
        img.save(buf, fmt)
        seeds[(fmt, mode)] = buf.getvalue()
    keys = list(seeds)
    out = []
    for k in range(n):
        fmt, mode = keys[k % len(keys)]
        path = root / f"c{k:04d}.{fmt.lower()}"
        data = seeds[(fmt, mode)]
        if k % 7 == 0 and fmt == "PNG":
            bombs.png_bomb(path, int(r.choice([7000, 12000, 30000])),
                           int(r.choice([7000, 12000])))
            out.append(path)
            continue
        if k % 5 == 0 and fmt == "BMP":
            data = bytearray(data)
            data[18:22] = int(r.integers(10 ** 4, 10 ** 5)).to_bytes(4, "little", signed=True)
            data[22:26] = int(r.integers(10 ** 4, 10 ** 5)).to_bytes(4, "little", signed=True)
            data = bytes(data)
        else:
            data = damage(data, r)
        path.write_bytes(data)
        out.append(path)
    return out


# ------------------------------------------------------------------------------ .keras
def keras_cases(root: Path, n: int, r: np.random.Generator) -> list[Path]:
    """Keras 3 archives: damaged bytes, a mutated config.json, mutated or trapped weights
    (missing variables, wrong shapes, text, external links, a huge never-written dataset),
    and zip bombs / hostile member lists."""
    from engine import Input
    from engine.layers import Dense
    from engine.models import Model
    x = Input(shape=(5,), name="x")
    model = Model(x, Dense(2, name="d2")(Dense(4, activation="relu", name="d1")(x)), name="m")
    model.compile("adam", "mse")
    seed = root / "seed.keras"
    model.save(seed)
    good = seed.read_bytes()
    with zipfile.ZipFile(seed) as z:
        members = {name: z.read(name) for name in z.namelist()}
    config = json.loads(members["config.json"])
    out = []
    for k in range(n):
        path = root / f"c{k:04d}.keras"
        kind = k % 6
        if kind in (0, 1):
            path.write_bytes(damage(good, r))
        elif kind in (2, 3):
            path.write_bytes(_zip({**members,
                                   "config.json": json_text(mutate_json(config, r), r).encode()}))
        elif kind == 4:
            path.write_bytes(_zip({**members, "model.weights.h5":
                                   _keras_weights_trap(members["model.weights.h5"], r)}))
        else:
            which = int(r.integers(0, 5))
            if which == 0:
                bombs.write_zip(path, [("config.json", members["config.json"], -1),
                                       ("model.weights.h5",
                                        bombs.deflate_zeros(int(r.integers(300, 1200)) * MB),
                                        int(r.choice([100, 10 ** 9])))])
            elif which == 1:
                bombs.write_zip(path, [("config.json", bombs.deflate_zeros(
                    int(r.integers(70, 400)) * MB, prefix=b"{"), int(r.choice([100, 0])))])
            elif which == 2:
                path.write_bytes(_zip({f"m{i}": b"" for i in range(10_001)}))
            elif which == 3:
                path.write_bytes(_zip({**members, "../../x": b"x"}))
            else:
                path.write_bytes(_zip({k: v for k, v in members.items() if k != "config.json"}))
        out.append(path)
    return out


def _keras_weights_trap(weights: bytes, r: np.random.Generator) -> bytes:
    buf = io.BytesIO(weights)
    with h5py.File(buf, "r+") as f:
        found = []
        f.visititems(lambda name, obj: found.append(name)
                     if isinstance(obj, h5py.Dataset) and name.startswith("layers/") else None)
        name = found[int(r.integers(0, len(found)))]
        what = int(r.integers(0, 6))
        del f[name]
        if what == 1:
            f.create_dataset(name, data=np.zeros((int(r.integers(1, 50)),), np.float32))
        elif what == 2:
            f.create_dataset(name, data=np.array([b"text"]))
        elif what == 3:
            f[name] = h5py.ExternalLink("other.h5", "/kernel")
        elif what == 4:
            f.create_dataset(name, shape=(1 << 40,), dtype="f4", chunks=(1 << 16,))
        elif what == 5:
            f[name] = h5py.SoftLink("/" + name)                       # a loop
    return buf.getvalue()


FORMATS: dict[str, tuple[str, Callable]] = {
    "loom": ("loom", loom_cases), "h5": ("h5", h5_cases), "csv": ("csv", csv_cases),
    "npy": ("npz", npy_cases), "idx": ("idx", idx_cases), "hdf5": ("hdf5_data", hdf5_data_cases),
    "image": ("image", image_cases), "keras": ("keras", keras_cases),
}


def make_corpus(root: Path, cases: int, seed: int = 13) -> list[tuple[str, str, Path]]:
    out = []
    for k, (name, (reader, make)) in enumerate(FORMATS.items()):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        r = np.random.default_rng([seed, k])
        out += [(name, reader, p) for p in make(folder, cases, r)]
    return out
