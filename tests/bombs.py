"""Small hostile files that would take gigabytes if a reader trusted them.

Everything here is cheap to make: deflate streams of zeros are built from one compressed block
repeated (a full flush resets the compressor, so every block compresses to the same bytes),
zip files are written by hand so that a member's header can declare any size.
"""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import h5py
import numpy as np

MB = 1024 ** 2


def deflate_zeros(total: int, prefix: bytes = b"", block: int = MB) -> bytes:
    """A raw deflate stream of ``prefix`` followed by ``total`` zeros."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    c2 = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = c2.compress(b"\0" * block) + c2.flush(zlib.Z_FULL_FLUSH)
    c3 = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = c3.compress(b"\0" * (total % block)) + c3.flush()
    return head + piece * (total // block) + tail


def _checksum_of_zeros(fn, total: int, prefix: bytes = b"") -> int:
    value = fn(prefix) if fn is zlib.crc32 else fn(prefix, 1)
    zeros = b"\0" * MB
    for _ in range(total // MB):
        value = fn(zeros, value)
    return fn(b"\0" * (total % MB), value) & 0xFFFFFFFF


def gzip_zeros(total: int, prefix: bytes = b"", trailer: bool = True) -> bytes:
    """A gzip file of ``prefix`` + ``total`` zeros (its CRC trailer left out when asked)."""
    body = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + deflate_zeros(total, prefix)
    if not trailer:
        return body
    crc = _checksum_of_zeros(zlib.crc32, total, prefix)
    return body + struct.pack("<II", crc, (len(prefix) + total) & 0xFFFFFFFF)


def write_zip(path: Path, members: list[tuple]) -> Path:
    """A zip whose members are ``(name, raw deflate data, declared size[, crc])``; a member
    whose data is plain bytes (not deflated) is given as ``(name, data, -1)`` and stored."""
    out, central = bytearray(), bytearray()
    for name, data, declared, *crc in members:
        stored = declared == -1
        size = len(data) if stored else declared
        crc = zlib.crc32(data) if stored else (crc[0] if crc else 0)
        method = 0 if stored else 8
        offset = len(out)
        fields = struct.pack("<HHHHHIII", 20, 0, method, 0, 0, crc, len(data),
                             min(size, 0xFFFFFFFE))
        out += b"PK\x03\x04" + fields + struct.pack("<HH", len(name), 0) + name.encode() + data
        central += b"PK\x01\x02" + struct.pack("<H", 20) + fields + struct.pack(
            "<HHHHHII", len(name), 0, 0, 0, 0, 0, offset) + name.encode()
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members),
                      len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))
    return path


# ------------------------------------------------------------------------------ .loom
def small_project_json(units: int = 8) -> bytes:
    from engine.graph import GraphDocument
    from engine.project import Project
    from engine.project.file import project_json
    g = GraphDocument("m")
    i = g.add_node("InputLayer", {"shape": [4]})
    h = g.add_node("Dense", {"units": units})
    g.connect(i.id, h.id)
    return json.dumps(project_json(Project(g))).encode()


def loom_weights_bomb(path: Path, inflated: int = 1500 * MB, declared: int | None = None
                      ) -> Path:
    """A real project.json and a weights.h5 member that inflates to ``inflated`` bytes (its
    header declaring that size, or ``declared``)."""
    return write_zip(path, [("project.json", small_project_json(), -1),
                            ("weights.h5", deflate_zeros(inflated), declared or inflated)])


def loom_json_bomb(path: Path, inflated: int = 1500 * MB, declared: int | None = None) -> Path:
    """project.json that inflates to ``inflated`` bytes (declared as that, or ``declared``)."""
    return write_zip(path, [("project.json", deflate_zeros(inflated, prefix=b"{"),
                             declared or inflated + 1)])


def loom_json_objects(path: Path, megabytes: int = 40) -> Path:
    """A project.json of many tiny objects (3 bytes each, ~70 as Python objects)."""
    text = b'{"schema_version": 1, "view": {"x": [' + b"{}," * (megabytes * MB // 3) + b"{}]}}"
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return write_zip(path, [("project.json", c.compress(text) + c.flush(), len(text),
                             zlib.crc32(text))])


# ------------------------------------------------------------------------------ HDF5
def h5_model(path: Path, units: int = 2, n_in: int = 4) -> Path:
    from engine import Input
    from engine.layers import Dense
    from engine.models import Model
    x = Input(shape=(n_in,), name="x")
    Model(x, Dense(units, name="d")(x), name="m").save(path)
    return path


def h5_fill_value_kernel(path: Path, n_in: int = 16384, units: int = 16384) -> Path:
    """A model whose kernel is a chunked dataset never written: a few KB on disk, the
    declared n_in × units float32 values once read."""
    with h5py.File(path, "w") as f:
        cfg = {"class_name": "Sequential", "config": {"name": "s", "layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [None, n_in], "name": "x"}},
            {"class_name": "Dense", "config": {"units": units, "name": "d", "use_bias": False}}]}}
        f.attrs["model_config"] = json.dumps(cfg)
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([b"d"])
        d = g.create_group("d")
        d.attrs["weight_names"] = np.array([b"s/d/kernel"])
        d.create_dataset("s/d/kernel", shape=(n_in, units), dtype="f4", chunks=(256, 256),
                         fillvalue=1.0)
    return path


def replace_kernel(path: Path, make) -> Path:
    """Replace the Dense 'd' kernel of an ``h5_model`` file by ``make(group, name)``."""
    with h5py.File(path, "r+") as f:
        g = f["model_weights/d"]
        names = [n.decode() for n in g.attrs["weight_names"]]
        kernel = next(n for n in names if n.endswith("kernel"))
        del g[kernel]
        make(g, kernel)
    return path


# ------------------------------------------------------------------------------ data files
def idx_gz_bomb(path: Path, inflated: int = 1500 * MB, trailer: bool = True) -> Path:
    """An IDX header declaring ``inflated`` uint8 values, gzip'd with that many zeros."""
    dims = (inflated // 784, 28, 28)
    head = bytes([0, 0, 0x08, 3]) + b"".join(d.to_bytes(4, "big") for d in dims)
    path.write_bytes(gzip_zeros(dims[0] * 784 // MB * MB, prefix=head, trailer=trailer))
    return path


def npz_bomb(path: Path, inflated: int = 1500 * MB, declared_small: bool = False) -> Path:
    """An .npz whose x.npy inflates to ``inflated`` bytes (its header declares that shape,
    or a small one with ``declared_small``)."""
    n = 1000 if declared_small else inflated // 4
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({n},), }}"
    header = header.ljust(118) + "\n"
    prefix = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()
    return write_zip(path, [("x.npy", deflate_zeros(inflated, prefix=prefix),
                             inflated + len(prefix))])


def png_bomb(path: Path, width: int = 12000, height: int = 12000) -> Path:
    """An RGB PNG of ``width`` × ``height`` black pixels in a few hundred KB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    total = (1 + 3 * width) * height          # a filter byte and the pixels of each row
    body = b"\x78\xda" + deflate_zeros(total) + struct.pack(
        ">I", _checksum_of_zeros(zlib.adler32, total))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) +
                     chunk(b"IEND", b""))
    return path


def hdf5_fill_value_data(path: Path, n: int = 2_500_000_000) -> Path:
    """An HDF5 data file whose 'x' dataset of n float32 values was never written."""
    with h5py.File(path, "w") as f:
        f.create_dataset("x", shape=(n,), dtype="f4", chunks=(1 << 20,), fillvalue=3.0)
        f.create_dataset("y", data=np.zeros(4, np.int64))
    return path
