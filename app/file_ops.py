"""File operations of the window: new, open, save, recent files, examples, import and export.

Projects are read and written by ``engine.project`` (atomic saves, autosave side files);
Keras HDF5 and scripts by ``engine.io``. Heavy modules are imported when first used, so they
stay off the start-up path. Dialogs are small methods (``ask_*``) that tests replace.

Code in files (Custom layer and Lambda nodes) never runs without consent: projects are read
with their code inert, then :meth:`FileOps.ask_trust_code` shows the code and asks; a Keras
file with code is refused until the user trusts it.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QStandardPaths, QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.panels.log import LOGGER_NAME

if TYPE_CHECKING:
    from app.main_window import MainWindow

log = logging.getLogger(LOGGER_NAME)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = ROOT / "examples"
DEFAULT_EXAMPLE = EXAMPLES_DIR / "mnist_cnn.loom"
PROJECT_FILTER = "LayerLoom projects (*.loom)"
H5_FILTER = "Keras HDF5 models (*.h5 *.hdf5)"
KERAS_FILTER = "Keras 3 models (*.keras)"
MODEL_FILTER = "Keras models (*.keras *.h5 *.hdf5)"
MAX_RECENT = 10
AUTOSAVE_MS = 120_000


class FileOps(QObject):
    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.w = window
        self.settings = window.settings
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()

    # ------------------------------------------------------------------ dialogs (replaceable)
    def ask_open_path(self, title: str, filters: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.w, title, self._last_dir(), filters)
        return path or None

    def ask_save_path(self, title: str, filters: str, suggested: str) -> str | None:
        start = str(Path(self._last_dir()) / suggested)
        path, _ = QFileDialog.getSaveFileName(self.w, title, start, filters)
        return path or None

    def ask_save_changes(self) -> str:
        """'save', 'discard' or 'cancel' for a modified project about to be closed."""
        box = QMessageBox(QMessageBox.Warning, "Unsaved changes",
                          f"Save the changes to “{self.w.project_title()}”?",
                          QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, self.w)
        answer = box.exec()
        return {QMessageBox.Save: "save", QMessageBox.Discard: "discard"}.get(answer, "cancel")

    def ask_restore_autosave(self, path: str) -> bool:
        answer = QMessageBox.question(
            self.w, "Recover unsaved work",
            f"An autosave of {Path(path).name} is newer than the file. Recover it?")
        return answer == QMessageBox.Yes

    def autosave_folder(self) -> Path:
        """Where untitled projects are autosaved: the platform's application-data folder."""
        return Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation))

    def ask_trust_code(self, file_name: str, code: dict[str, str],
                       can_open_inert: bool = True) -> str:
        """'trust', 'inert' (open with that code not run) or 'cancel', after showing it."""
        from app.code_consent import ask_trust_code
        return ask_trust_code(self.w, file_name, code, can_open_inert)

    def _last_dir(self) -> str:
        return str(self.settings.value("last_dir", str(Path.home())))

    def _remember_dir(self, path: str) -> None:
        self.settings.setValue("last_dir", str(Path(path).resolve().parent))

    # ------------------------------------------------------------------ projects
    def new_project(self) -> None:
        if not self.maybe_save():
            return
        from engine.project import Project
        self.w.set_project(Project.new())
        log.info("new project")

    def open_dialog(self) -> None:
        path = self.ask_open_path("Open project", PROJECT_FILTER + ";;All files (*)")
        if path:
            self.open_path(path)

    def open_path(self, path: str, check_modified: bool = True) -> bool:
        """Open a project file; on failure the current project stays and the reason is shown."""
        if check_modified and not self.maybe_save():
            return False
        from engine.project import ProjectError, find_autosave, load_project
        try:
            source = path
            autosave = find_autosave(path)
            if autosave and self.ask_restore_autosave(path):
                source = str(autosave)
            elif autosave:
                self._remove(autosave)   # the user does not want those changes back
            project = load_project(source, inert_code=True)
            project.path = Path(path)
        except (ProjectError, OSError) as e:
            self.w.report_error("Cannot open project", str(e))
            self.forget_recent(path)
            return False
        trust = self.consent(project, Path(path).name)
        if trust is None:
            return False
        self.w.set_project(project, modified=source != path)
        if trust:
            self.w.editor.trust_code()
        self.add_recent(path)
        self._remember_dir(path)
        self.settings.setValue("last_project", str(Path(path).resolve()))
        log.info("opened %s", path)
        return True

    def open_example(self, path: str | Path) -> bool:
        """Open a bundled example as a new, unsaved project (Save asks where to put it)."""
        if not self.maybe_save():
            return False
        from engine.project import ProjectError, load_project
        try:
            project = load_project(path, inert_code=True)
        except (ProjectError, OSError) as e:
            self.w.report_error("Cannot open example", str(e))
            return False
        trust = self.consent(project, Path(path).name)
        if trust is None:
            return False
        project.path = None
        project.view = {}               # fit the example to this window
        self.w.set_project(project)
        if trust:
            self.w.editor.trust_code()
        log.info("opened example %s", Path(path).name)
        return True

    def startup_project(self, path: str | None = None):
        """What the app opens first: ``path``, else the last project, else the MNIST CNN
        example, else that example built in code."""
        from engine.project import Project, ProjectError, load_project
        candidates = [path] if path else [self.settings.value("last_project", ""), None]
        for candidate in candidates:
            if candidate and Path(candidate).is_file():
                try:       # (code in it stays inert: the window asks once it is shown)
                    project = load_project(candidate, inert_code=True)
                    project.path = Path(candidate)
                    return project
                except (ProjectError, OSError) as e:
                    log.warning("could not open %s: %s", candidate, e)
                    if path:
                        raise
        if DEFAULT_EXAMPLE.is_file():
            try:
                project = load_project(DEFAULT_EXAMPLE, inert_code=True)
                project.path = None
                project.view = {}
                return project
            except (ProjectError, OSError) as e:
                log.warning("could not open the bundled example: %s", e)
        from app.example_graph import mnist_cnn_graph
        project = Project.new()
        try:
            project.graph = mnist_cnn_graph()
        except (KeyError, ValueError) as e:      # an engine without those layer types
            log.warning("could not build the MNIST CNN example: %s", e)
        project.view = {}
        return project

    def consent(self, project, file_name: str) -> bool | None:
        """Ask whether the code in ``project`` (read with its code inert) may run: True
        (trust), False (keep it inert), None (cancel: do not open it). No code: True."""
        untrusted = project.graph.untrusted
        if not untrusted:
            return True
        code = {project.graph.nodes[nid].name: project.graph.code_nodes()[nid]
                for nid in sorted(untrusted)}
        answer = self.ask_trust_code(file_name, code)
        if answer == "cancel":
            return None
        if answer == "inert":
            log.warning("%s: the code of %s was not run (not trusted)", file_name,
                        ", ".join(code))
        return answer == "trust"

    def offer_trust(self) -> None:
        """Ask about code left inert in the project now shown (after start-up)."""
        project = self.w.project
        if project is not None and project.graph.untrusted:
            name = Path(project.path).name if project.path else project.graph.name
            if self.consent(project, name):
                self.w.editor.trust_code()

    def save(self) -> bool:
        if self.w.project.path is None:
            return self.save_as()
        return self._save_to(str(self.w.project.path))

    def save_as(self) -> bool:
        suggested = (Path(self.w.project.path).name if self.w.project.path
                     else f"{self.w.project.graph.name or 'model'}.loom")
        path = self.ask_save_path("Save project as", PROJECT_FILTER, suggested)
        if not path:
            return False
        if not path.endswith(".loom"):
            path += ".loom"
        return self._save_to(path)

    def _save_to(self, path: str) -> bool:
        from engine.project import ProjectError, autosave_target, save_project
        self.w.store_view_state()
        # an untitled project's autosave (in the app-data folder) is stale once it is saved
        stale = autosave_target(self.w.project, self.autosave_folder()) \
            if self.w.project.path is None else None
        try:
            save_project(self.w.project, path)
        except (ProjectError, OSError) as e:     # disk full, permissions, no folder
            self.w.report_error("Cannot save project", f"{path}: {e}")
            return False
        if stale is not None:
            self._remove(stale)
        self.w.project.path = Path(path)
        self.w.mark_saved()
        self.add_recent(path)
        self._remember_dir(path)
        self.settings.setValue("last_project", str(Path(path).resolve()))
        self.w.show_status(f"Saved {path}")
        log.info("saved %s", path)
        return True

    def maybe_save(self) -> bool:
        """True when the current project may be replaced (saved, discarded or unmodified)."""
        if not all(guard() for guard in self.w.close_guards):
            return False
        if self.w.project is None or not self.w.is_modified():
            return True
        answer = self.ask_save_changes()
        if answer == "save":
            return self.save()
        if answer == "discard":      # and with the changes, their autosave
            from engine.project import autosave_target
            self._remove(autosave_target(self.w.project, self.autosave_folder()))
        return answer == "discard"

    @staticmethod
    def _remove(path: Path) -> None:
        try:
            Path(path).unlink(missing_ok=True)
        except OSError as e:
            log.warning("could not remove %s: %s", path, e)

    def autosave(self) -> str | None:
        """Write the project's autosave side file if it has unsaved changes; returns its path."""
        if self.w.project is None or not self.w.is_modified():
            return None
        from engine.project import autosave_project
        self.w.store_view_state()
        try:
            saved = autosave_project(self.w.project, self.autosave_folder())
        except Exception as e:  # noqa: BLE001 — autosave must never interrupt the user
            log.warning("autosave failed: %s", e)
            return None
        if saved:
            log.info("autosaved to %s", saved)
        return str(saved) if saved else None

    # ------------------------------------------------------------------ recent and examples
    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: str) -> None:
        path = str(Path(path).resolve())
        files = [path] + [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent_files", files[:MAX_RECENT])

    def forget_recent(self, path: str) -> None:
        path = str(Path(path).resolve())
        self.settings.setValue("recent_files", [p for p in self.recent_files() if p != path])

    def clear_recent(self) -> None:
        self.settings.setValue("recent_files", [])

    def examples(self) -> list[tuple[str, Path]]:
        """(title, path) of the bundled example projects."""
        if not EXAMPLES_DIR.is_dir():
            return []
        return [(p.stem.replace("_", " ").replace("mnist", "MNIST").replace("cnn", "CNN")
                 .replace("mlp", "MLP").replace("lstm", "LSTM").replace("imdb", "IMDB")
                 .replace("cifar10", "CIFAR-10"), p)
                for p in sorted(EXAMPLES_DIR.glob("*.loom"))]

    # ------------------------------------------------------------------ Keras files
    def import_h5_dialog(self) -> None:
        path = self.ask_open_path("Import Keras model", MODEL_FILTER + ";;All files (*)")
        if path:
            self.import_h5(path)

    def import_h5(self, path: str) -> bool:
        """Open a Keras model (.keras archive or .h5) as a new editable project, laid out
        automatically, with the model's weights and training settings."""
        if not self.maybe_save():
            return False
        from engine.graph import document_from_model
        from engine.io.errors import ModelFileError
        from engine.project import Project, TrainingConfig
        from engine.saving import load_model
        from engine.saving.safe_mode import UnsafeCodeError
        try:
            try:
                model = load_model(path)
            except UnsafeCodeError as e:         # the file holds code: show it, ask
                from engine.io.keras_h5 import code_in_file
                code = code_in_file(path) or {e.where: e.source}
                if self.ask_trust_code(Path(path).name, code, can_open_inert=False) != "trust":
                    self.w.show_status(f"Not imported: {Path(path).name} holds code that was "
                                       f"not trusted")
                    return False
                try:
                    model = load_model(path, safe_mode=False)
                except (ModelFileError, OSError):
                    raise
                except Exception as e:  # noqa: BLE001 — the trusted code itself failed
                    raise ModelFileError(f"{Path(path).name}: its code failed: "
                                         f"{type(e).__name__}: {e}") from None
            graph = document_from_model(model)
        except (ModelFileError, OSError) as e:  # the message starts with the file's name
            self.w.report_error("Cannot import Keras model", str(e))
            return False
        graph.auto_layout()
        project = Project.new()
        project.graph = graph
        project.view = {}
        project.store_weights(model)
        project.training = TrainingConfig.from_model(model)
        self.w.set_project(project, modified=True)
        self._remember_dir(path)
        log.info("imported %s (%d layers)", path, len(graph.nodes))
        return True

    def export_h5_dialog(self) -> None:
        path = self.ask_save_path("Export Keras model", H5_FILTER, f"{self._stem()}.h5")
        if path:
            self.export_h5(path)

    def export_keras_dialog(self) -> None:
        path = self.ask_save_path("Export Keras model", KERAS_FILTER, f"{self._stem()}.keras")
        if path:
            self.export_model(path)

    def export_h5(self, path: str) -> bool:
        return self.export_model(path)

    def export_model(self, path: str) -> bool:
        """The model with the project's weights and training settings: ``.keras`` (Keras 3)
        or ``.h5`` (legacy HDF5), by the file's extension."""
        def write() -> None:
            from engine.saving import save_model
            project = self.w.project
            model = project.build_model()
            model.compile(**project.training.compile_args())
            save_model(model, path, overwrite=True)
        return self._export("Keras model", path, write)

    def export_onnx_dialog(self) -> None:
        path = self.ask_save_path("Export ONNX model", "ONNX models (*.onnx)",
                                  f"{self._stem()}.onnx")
        if path:
            self.export_onnx(path)

    def export_onnx(self, path: str) -> bool:
        """The model with the project's weights as ONNX (inference graph)."""
        def write() -> None:
            from engine.io.onnx_export import export_onnx
            export_onnx(self.w.project.build_model(), path)
        return self._export("ONNX model", path, write)

    def export_script_dialog(self) -> None:
        path = self.ask_save_path("Export Keras script", "Python scripts (*.py)",
                                  f"{self._stem()}.py")
        if path:
            self.export_script(path)

    def export_script(self, path: str) -> bool:
        def write() -> None:          # with the project's weights and data beside it
            from engine.io.script_export import export_script
            export_script(self.w.project, path)
        return self._export("Keras script", path, write)

    def _export(self, what: str, path: str, write) -> bool:
        """Run ``write``; a failure (bad graph, disk, engine) is reported, not raised."""
        try:
            write()
        except Exception as e:  # noqa: BLE001 — whatever went wrong, the user reads why
            self.w.report_error(f"Cannot export {what.lower()}", str(e))
            return False
        self.w.show_status(f"Exported {path}")
        log.info("exported %s to %s", what, path)
        return True

    # ------------------------------------------------------------------ pictures
    def export_png_dialog(self) -> None:
        path = self.ask_save_path("Export canvas as PNG", "PNG images (*.png)",
                                  f"{self._stem()}.png")
        if path:
            self.export_picture(path)

    def export_svg_dialog(self) -> None:
        path = self.ask_save_path("Export canvas as SVG", "SVG drawings (*.svg)",
                                  f"{self._stem()}.svg")
        if path:
            self.export_picture(path)

    def export_picture(self, path: str) -> bool:
        """PNG or SVG by the file's extension."""
        from app.canvas.export import export_png, export_svg
        try:
            if path.lower().endswith(".svg"):
                export_svg(self.w.scene, path, title=self.w.project_title())
            else:
                export_png(self.w.scene, path)
        except OSError as e:
            self.w.report_error("Cannot export picture", str(e))
            return False
        self.w.show_status(f"Exported {path}")
        return True

    def _stem(self) -> str:
        p = self.w.project.path
        return Path(p).stem if p else (self.w.project.graph.name or "model")
