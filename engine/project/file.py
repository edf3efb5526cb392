"""The ``.loom`` project file: a zip with ``project.json`` and (optionally) ``weights.h5``.

``project.json``: ``{"schema_version": 1, "graph": ..., "view": ..., "data_source": ...,
"training": ..., "runs": [...]}``. ``weights.h5``: one group per layer name, datasets ``0``, ``1``
... in the layer's weight order. Writing is atomic and keeps one ``.bak``; reading checks every
part and raises :class:`~engine.project.project.ProjectError` with one line, writing nothing.
Also here: the autosave side file that the app offers to restore after a crash. Nothing read
from a file is unpickled or evaluated — except, with the user's consent (``safe_mode=False``),
the code of Lambda and custom-layer nodes: :class:`UnsafeProjectError` otherwise.
"""
from __future__ import annotations

import io
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from engine.graph import GraphDocument, GraphError, build_model
from engine.io.atomic import atomic_path
from engine.io.bounded import (
    MAX_JSON_BYTES,
    Budget,
    budget_for,
    check_dataset,
    copy_member,
    hdf5_child,
    parse_json,
    read_member,
)
from engine.layers.base import shape_only_build
from engine.project.project import Project, ProjectError, RunRecord, TrainingConfig
from engine.saving.safe_mode import SafeModeScope, UnsafeCodeError

SCHEMA_VERSION = 1
MAX_NODES = 20000
ALLOWED = {"project.json", "weights.h5"}


AUTOSAVE_SUFFIX = ".autosave"


def _error(path: Path, message: str) -> ProjectError:
    return ProjectError(f"{path.name}: {message}")


# ------------------------------------------------------------------------------- writing
def fitting_weights(project) -> dict[str, list[np.ndarray]]:
    """The stored weights that still fit the graph (edited layers lose theirs)."""
    if not project.weights or project.graph.problems():
        return {}
    with shape_only_build():
        model = build_model(project.graph)
    out = {}
    for layer in model.layers:
        arrays = project.weights.get(layer.name)
        if arrays is not None and len(arrays) == len(layer.weights) and all(
                tuple(np.shape(a)) == w.shape for a, w in zip(arrays, layer.weights)):
            out[layer.name] = arrays
    return out


def project_json(project) -> dict:
    return {"schema_version": SCHEMA_VERSION, "graph": project.graph.to_dict(),
            "view": project.view, "data_source": project.data_source,
            "training": project.training.to_dict(), "runs": [r.to_dict() for r in project.runs]}


def write_project(project, path: Path, keep_backup: bool = True) -> None:
    import h5py
    path = Path(path)
    weights = fitting_weights(project)
    # which layers' weights the file holds: a reader tells a damaged file (a listed layer is
    # missing) from a graph edited since training (those layers are simply not listed)
    text = json.dumps({**project_json(project), "stored_weights": sorted(weights)}, indent=1,
                      allow_nan=True)
    if keep_backup and path.is_file():
        bak = path.with_name(path.name + ".bak")
        with atomic_path(bak, mode_from=path) as tmp:
            shutil.copyfile(path, tmp)
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("project.json", text)
            if weights:
                buf = io.BytesIO()
                with h5py.File(buf, "w") as f:
                    for name, arrays in weights.items():
                        g = f.create_group(name)
                        for i, a in enumerate(arrays):
                            g.create_dataset(str(i), data=np.asarray(a, dtype=np.float32))
                z.writestr("weights.h5", buf.getvalue())


def save_project(project: Project, path=None) -> Path:
    """Save ``project`` to ``path`` (default: where it was last saved), keeping one ``.bak``;
    its autosave side file goes, since the file now holds everything."""
    target = Path(path) if path is not None else project.path
    if target is None:
        raise ProjectError("the project has no file yet; choose where to save it")
    write_project(project, target, keep_backup=True)
    project.path = target
    autosave = autosave_path(target)
    if autosave.exists():
        autosave.unlink()
    return target


def autosave_path(path) -> Path:
    path = Path(path)
    return path.with_name(path.name + AUTOSAVE_SUFFIX)


def autosave_target(project: Project, folder: Path | None = None) -> Path:
    """Where :func:`autosave_project` writes: beside the project file, or — for a project
    never saved — ``untitled.loom.autosave`` in ``folder`` (the app passes the platform's
    application-data folder; without one, ``~/.layerloom``)."""
    if project.path is not None:
        return autosave_path(project.path)
    return Path(folder or Path.home() / ".layerloom") / ("untitled.loom" + AUTOSAVE_SUFFIX)


def autosave_project(project: Project, fallback_dir: Path | None = None) -> Path:
    """Write the side file that the app offers to restore after a crash."""
    target = autosave_target(project, fallback_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_project(project, target, keep_backup=False)
    return target


def find_autosave(path) -> Path | None:
    """The autosave of ``path`` when it is newer than the file itself."""
    path = Path(path)
    side = autosave_path(path)
    if side.is_file() and (not path.exists() or side.stat().st_mtime > path.stat().st_mtime):
        return side
    return None


# ------------------------------------------------------------------------------- reading
class UnsafeProjectError(ProjectError, UnsafeCodeError):
    """The project holds code (Lambda / custom-layer nodes) and was opened in safe mode.
    ``code`` maps each such node's name to its source, for the app to show before asking."""

    def __init__(self, message: str, code: dict[str, str]):
        UnsafeCodeError.__init__(self, message, ", ".join(code), "\n\n".join(code.values()))
        self.code = code


def load_project(path, safe_mode: bool = True, inert_code: bool = False) -> Project:
    """Read a ``.loom`` file (:class:`ProjectError` with one line when it cannot be read).
    A project whose nodes hold code opens only with ``safe_mode=False`` — or, with
    ``inert_code``, with those nodes inert: in ``graph.untrusted``, never run (the app opens
    files so and asks, showing the code, before ``graph.trust_code()``)."""
    with SafeModeScope(safe_mode):
        return read_project(Path(path), inert_code=inert_code)


def read_project(path: Path, inert_code: bool = False) -> Project:
    path = Path(path)

    def fail(message: str) -> ProjectError:
        return _error(path, message)
    if not path.is_file():
        raise fail("no such file")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
        raise fail(f"not a LayerLoom project (not a readable zip: {e})") from None
    with zf:
        infos = _members(zf, fail)
        raw = read_member(zf, infos["project.json"], MAX_JSON_BYTES, fail)
        data = parse_json(raw, "project.json", fail)
        del raw
        project, stored = _project_from_json(data, path, fail, inert_code)
        del data
        if "weights.h5" in infos:
            project.weights = _read_weights(zf, infos["weights.h5"], project, stored, path,
                                            fail)
        elif stored:
            raise fail(f"project.json lists the trained weights of {_names(stored)}, but the "
                       f"file has no weights.h5 (damaged or cut short)")
    project.path = path
    return project


def _members(zf: zipfile.ZipFile, fail) -> dict[str, zipfile.ZipInfo]:
    infos = {}
    for info in zf.infolist():
        name = info.filename
        if name.startswith(("/", "\\")) or ".." in Path(name).parts or ":" in name:
            raise fail(f"contains a suspicious entry name {name!r}")
        if name in ALLOWED:
            if name in infos:
                raise fail(f"holds {name} twice")
            infos[name] = info
    if "project.json" not in infos:
        raise fail("not a LayerLoom project (no project.json inside)")
    return infos


def _project_from_json(data, path: Path, fail,
                       inert_code: bool = False) -> tuple[Project, list[str] | None]:
    """The project described by project.json, and the layers whose weights it says are
    stored (None in files written before LayerLoom recorded them)."""
    if not isinstance(data, dict):
        raise fail("project.json must hold an object")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise fail("project.json has no schema_version")
    if version > SCHEMA_VERSION:
        raise fail(f"was written by a newer LayerLoom (schema {version}; this version "
                   f"reads up to {SCHEMA_VERSION}); update LayerLoom to open it")
    graph = data.get("graph")
    if isinstance(graph, dict) and isinstance(graph.get("nodes"), list) and \
            len(graph["nodes"]) > MAX_NODES:
        raise fail(f"the graph has {len(graph['nodes']):,} layers; LayerLoom opens graphs of "
                   f"up to {MAX_NODES:,}")
    if not inert_code:
        _check_code(path, graph)
    try:
        project = Project(GraphDocument.from_dict(
            graph, trust_code=False if inert_code else None))
        view = data.get("view", {})
        if not isinstance(view, dict):
            raise ProjectError("'view' must be an object")
        project.view.update(view)
        ds = data.get("data_source")
        if ds is not None and not isinstance(ds, dict):
            raise ProjectError("'data_source' must be an object")
        project.data_source = ds
        project.training = TrainingConfig.from_dict(data.get("training", {}))
        runs = data.get("runs", [])
        if not isinstance(runs, list):
            raise ProjectError("'runs' must be a list")
        project.runs = [RunRecord.from_dict(r) for r in runs]
        stored = data.get("stored_weights")
        if stored is not None and not (isinstance(stored, list) and
                                       all(isinstance(n, str) for n in stored)):
            raise ProjectError("'stored_weights' must be a list of layer names")
    except (GraphError, ProjectError) as e:
        raise fail(str(e)) from None
    except RecursionError:
        raise fail("project.json is nested too deeply") from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
            MemoryError) as e:
        text = " ".join(str(e).split())[:200] or type(e).__name__
        raise fail(f"project.json describes something LayerLoom cannot build "
                   f"({type(e).__name__}: {text})") from None
    return project, stored


def _check_code(path: Path, graph) -> None:
    """Refuse, in safe mode, a graph whose nodes hold Python code (before anything runs it)."""
    from engine.registry import CODE_KINDS, LAYERS
    from engine.saving.python_code import source_of
    from engine.saving.safe_mode import in_safe_mode
    if not in_safe_mode() or not isinstance(graph, dict) or not isinstance(graph.get("nodes"),
                                                                            list):
        return
    code = {}
    for n in graph["nodes"]:
        kind = n.get("type") if isinstance(n, dict) else None
        spec = LAYERS.get(kind) if isinstance(kind, str) else None
        if spec is None or not getattr(spec.cls, "holds_code", False):
            continue
        params = n.get("params") if isinstance(n.get("params"), dict) else {}
        sources = [source_of(params.get(p.name)) for p in spec.params if p.kind in CODE_KINDS]
        code[str(n.get("name"))] = "\n".join(s for s in sources if s) or "(code)"
    if code:
        raise UnsafeProjectError(
            f"{path.name}: layer(s) {', '.join(code)} hold Python code, and opening the project "
            f"would run it. If you trust this file, open it with safe_mode=False "
            f"(load_project(path, safe_mode=False)); in the app, confirm in the dialog that "
            f"shows the code", code)


def _names(names, shown: int = 5) -> str:
    names = list(names)
    return ", ".join(f"'{n}'" for n in names[:shown]) + (" …" if len(names) > shown else "")


def _expected_shapes(project) -> dict[str, list[tuple[int, ...]]] | None:
    """The weight shapes of every layer of the graph, or None when the graph has problems
    (then shapes cannot be known and stored weights are kept as they are)."""
    if project.graph.problems():
        return None
    with shape_only_build():
        model = build_model(project.graph)
    return {layer.name: [w.shape for w in layer.weights] for layer in model.layers}


def _read_weights(zf, info, project, stored, path: Path, fail
                  ) -> dict[str, list[np.ndarray]]:
    """The arrays of weights.h5: inflated to an unnamed temporary file (real bytes counted),
    every dataset checked against the graph's shapes and the budget before it is read."""
    import h5py
    budget = Budget(budget_for(path), fail)
    expected = _expected_shapes(project)
    limit = budget.limit
    if expected is not None:     # the graph says how big its weights can be
        shapes = [s for layer in expected.values() for s in layer]
        values = sum(int(np.prod(s, dtype=np.int64)) for s in shapes)
        limit = min(limit, 8 * values + 8192 * len(shapes) + (1 << 20))
    with tempfile.TemporaryFile() as tmp:
        copy_member(zf, info, tmp, limit, fail)
        tmp.seek(0)
        try:
            with h5py.File(tmp, "r") as f:
                out = _weights_arrays(f, expected, stored, budget, fail)
        except ProjectError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
            raise fail(f"weights.h5 is damaged ({e})") from None
    return out


def _weights_arrays(f, expected, stored, budget: Budget, fail) -> dict[str, list[np.ndarray]]:
    import h5py
    out: dict[str, list[np.ndarray]] = {}
    for name in list(f.keys()):
        group = hdf5_child(f, name, fail, "weights.h5")
        if not isinstance(group, h5py.Group):
            raise fail(f"weights.h5: '{name}' is not a layer group")
        shapes = expected.get(name) if expected is not None else None
        if expected is not None and (shapes is None or len(group) != len(shapes)):
            raise fail(f"weights.h5: the weights of layer '{name}' do not fit the graph (no such "
                       f"layer, or {len(group)} weights where the layer has "
                       f"{len(shapes or [])})")
        datasets = []
        for i in range(len(group)):
            ds = hdf5_child(group, str(i), fail, "weights.h5")
            where = f"weights.h5: layer '{name}' weight {i}"
            if not isinstance(ds, h5py.Dataset) or ds.dtype.kind != "f":
                raise fail(f"{where} is missing or not floating point")
            if shapes is not None and tuple(ds.shape) != shapes[i]:
                raise fail(f"{where} has shape {tuple(ds.shape)}, the graph's layer needs "
                           f"{shapes[i]}")
            check_dataset(ds, where, fail, budget, kinds="f")
            datasets.append(ds)
        out[name] = [np.asarray(ds[()], dtype=np.float32) for ds in datasets]
    if stored is not None:
        lacking = [n for n in stored if n not in out]
        if lacking:
            raise fail(f"weights.h5 lacks the trained weights of {_names(lacking)}, which "
                       f"project.json lists (the file is damaged)")
    return out
