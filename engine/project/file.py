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
import zipfile
from pathlib import Path

import numpy as np

from engine.graph import GraphDocument, GraphError, build_model
from engine.io.atomic import atomic_path
from engine.layers.base import shape_only_build
from engine.project.project import Project, ProjectError, RunRecord, TrainingConfig
from engine.saving.safe_mode import SafeModeScope, UnsafeCodeError

SCHEMA_VERSION = 1
MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_WEIGHTS_BYTES = 4 * 1024 ** 3
MAX_ARRAY_ELEMENTS = 512 * 1024 ** 2
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
    text = json.dumps(project_json(project), indent=1, allow_nan=True)
    weights = fitting_weights(project)
    if keep_backup and path.is_file():
        bak = path.with_name(path.name + ".bak")
        with atomic_path(bak) as tmp:
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


def autosave_project(project: Project, fallback_dir: Path | None = None) -> Path:
    """Write the side file that the app offers to restore after a crash."""
    if project.path is not None:
        target = autosave_path(project.path)
    else:
        folder = fallback_dir or Path.home() / ".layerloom"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / ("untitled.loom" + AUTOSAVE_SUFFIX)
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


def load_project(path, safe_mode: bool = True) -> Project:
    """Read a ``.loom`` file (:class:`ProjectError` with one line when it cannot be read).
    A project whose nodes hold code opens only with ``safe_mode=False``."""
    with SafeModeScope(safe_mode):
        return read_project(Path(path))



def read_project(path: Path) -> Project:
    path = Path(path)
    if not path.is_file():
        raise _error(path, "no such file")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise _error(path, f"not a LayerLoom project (not a readable zip: {e})") from None
    with zf:
        infos = {}
        for info in zf.infolist():
            name = info.filename
            if name.startswith(("/", "\\")) or ".." in Path(name).parts or ":" in name:
                raise _error(path, f"contains a suspicious entry name {name!r}")
            if name in ALLOWED:
                infos[name] = info
        if "project.json" not in infos:
            raise _error(path, "not a LayerLoom project (no project.json inside)")
        if infos["project.json"].file_size > MAX_JSON_BYTES:
            raise _error(path, "project.json is implausibly large")
        try:
            raw = zf.read("project.json")
            weights_raw = zf.read("weights.h5") if "weights.h5" in infos and \
                infos["weights.h5"].file_size <= MAX_WEIGHTS_BYTES else None
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise _error(path, f"the file is damaged ({e})") from None
        except Exception as e:  # zlib.error and friends from a corrupted stream
            raise _error(path, f"the file is damaged ({type(e).__name__}: {e})") from None
        if "weights.h5" in infos and weights_raw is None:
            raise _error(path, "weights.h5 is implausibly large")
    try:
        data = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise _error(path, "project.json is nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _error(path, f"project.json is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise _error(path, "project.json must hold an object")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _error(path, "project.json has no schema_version")
    if version > SCHEMA_VERSION:
        raise _error(path, f"was written by a newer LayerLoom (schema {version}; this version "
                           f"reads up to {SCHEMA_VERSION}); update LayerLoom to open it")
    _check_code(path, data.get("graph"))
    try:
        project = Project(GraphDocument.from_dict(data.get("graph")))
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
    except (GraphError, ProjectError) as e:
        raise _error(path, str(e)) from None
    except RecursionError:
        raise _error(path, "project.json is nested too deeply") from None
    if weights_raw is not None:
        project.weights = _read_weights(path, weights_raw, project)
    project.path = path
    return project


def _check_code(path: Path, graph) -> None:
    """Refuse, in safe mode, a graph whose nodes hold Python code (before anything runs it)."""
    from engine.registry import LAYERS
    from engine.saving.python_code import source_of
    from engine.saving.safe_mode import in_safe_mode
    if not in_safe_mode() or not isinstance(graph, dict) or not isinstance(graph.get("nodes"),
                                                                            list):
        return
    code = {}
    for n in graph["nodes"]:
        spec = LAYERS.get(n.get("type")) if isinstance(n, dict) else None
        if spec is None or not getattr(spec.cls, "holds_code", False):
            continue
        params = n.get("params") if isinstance(n.get("params"), dict) else {}
        sources = [source_of(v) for v in params.values()]
        code[str(n.get("name"))] = "\n".join(s for s in sources if s) or "(code)"
    if code:
        raise UnsafeProjectError(
            f"{path.name}: layer(s) {', '.join(code)} hold Python code, and opening the project "
            f"would run it. If you trust this file, open it with safe_mode=False "
            f"(load_project(path, safe_mode=False)); in the app, confirm in the dialog that "
            f"shows the code", code)


def _read_weights(path: Path, raw: bytes, project) -> dict[str, list[np.ndarray]]:
    import h5py
    out: dict[str, list[np.ndarray]] = {}
    try:
        with h5py.File(io.BytesIO(raw), "r") as f:
            for name, group in f.items():
                if not isinstance(group, h5py.Group):
                    raise _error(path, f"weights.h5: '{name}' is not a layer group")
                arrays = []
                for i in range(len(group)):
                    ds = group.get(str(i))
                    if not isinstance(ds, h5py.Dataset) or ds.dtype.kind != "f":
                        raise _error(path, f"weights.h5: layer '{name}' weight {i} is missing "
                                           f"or not floating point")
                    if ds.size > MAX_ARRAY_ELEMENTS:
                        raise _error(path, f"weights.h5: layer '{name}' weight {i} is "
                                           f"implausibly large {ds.shape}")
                    arrays.append(np.asarray(ds, dtype=np.float32))
                out[name] = arrays
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
        if type(e).__name__ == "ProjectError":
            raise
        raise _error(path, f"weights.h5 is damaged ({e})") from None
    project.weights = out
    fitting = fitting_weights(project)
    if project.graph.problems():
        return out
    for name in out:
        if name not in fitting:
            raise _error(path, f"weights.h5: the weights of layer '{name}' do not fit the graph "
                               f"(no such layer, or other shapes)")
    return out

