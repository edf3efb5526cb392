"""File operations of the window: new, open, save, recent files, examples, import and export.

Projects are read and written by ``engine.project`` (atomic saves, autosave side files);
Keras HDF5 and scripts by ``engine.io``. Heavy modules are imported when first used, so they
stay off the start-up path. Dialogs are small methods (``ask_*``) that tests replace.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.panels.log import LOGGER_NAME

if TYPE_CHECKING:
    from app.main_window import MainWindow

log = logging.getLogger(LOGGER_NAME)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = ROOT / "examples"
DEFAULT_EXAMPLE = EXAMPLES_DIR / "mnist_cnn.loom"
PROJECT_FILTER = "LayerLoom projects (*.loom)"
H5_FILTER = "Keras HDF5 models (*.h5 *.hdf5 *.keras.h5)"
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
            project = load_project(source)
            project.path = Path(path)
        except (ProjectError, OSError) as e:
            self.w.report_error("Cannot open project", str(e))
            self.forget_recent(path)
            return False
        self.w.set_project(project, modified=source != path)
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
            project = load_project(path)
        except (ProjectError, OSError) as e:
            self.w.report_error("Cannot open example", str(e))
            return False
        project.path = None
        project.view = {}               # fit the example to this window
        self.w.set_project(project)
        log.info("opened example %s", Path(path).name)
        return True

    def startup_project(self, path: str | None = None):
        """What the app opens first: ``path``, else the last project, else the MNIST CNN
        example, else that example built in code."""
        from engine.project import Project, ProjectError, load_project
        candidates = [path] if path else [self.settings.value("last_project", ""), None]
        for candidate in candidates:
            if candidate and Path(candidate).is_file():
                try:
                    project = load_project(candidate)
                    project.path = Path(candidate)
                    return project
                except (ProjectError, OSError) as e:
                    log.warning("could not open %s: %s", candidate, e)
                    if path:
                        raise
        if DEFAULT_EXAMPLE.is_file():
            try:
                project = load_project(DEFAULT_EXAMPLE)
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
        from engine.project import save_project
        self.w.store_view_state()
        try:
            save_project(self.w.project, path)
        except Exception as e:  # noqa: BLE001 — disk full, permissions, bad weights: tell the user
            self.w.report_error("Cannot save project", f"{path}: {e}")
            return False
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
        return answer == "discard"

    def autosave(self) -> str | None:
        """Write the project's autosave side file if it has unsaved changes; returns its path."""
        if self.w.project is None or not self.w.is_modified():
            return None
        from engine.project import autosave_project
        self.w.store_view_state()
        try:
            saved = autosave_project(self.w.project)
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
        path = self.ask_open_path("Import Keras model", H5_FILTER + ";;All files (*)")
        if path:
            self.import_h5(path)

    def import_h5(self, path: str) -> bool:
        """Open a Keras .h5 model as a new editable project (laid out automatically)."""
        if not self.maybe_save():
            return False
        from engine.graph import graph_from_keras_file
        from engine.project import Project
        try:
            graph = graph_from_keras_file(path)
        except Exception as e:  # noqa: BLE001 — any unreadable file is reported, not raised
            self.w.report_error("Cannot import Keras model", f"{Path(path).name}: {e}")
            return False
        graph.auto_layout()
        project = Project.new()
        project.graph = graph
        project.view = {}
        self.w.set_project(project, modified=True)
        self._remember_dir(path)
        log.info("imported %s (%d layers)", path, len(graph.nodes))
        return True

    def export_h5_dialog(self) -> None:
        path = self.ask_save_path("Export Keras model", H5_FILTER, f"{self._stem()}.h5")
        if path:
            self.export_h5(path)

    def export_h5(self, path: str) -> bool:
        def write() -> None:
            from engine.io.keras_h5 import save_model
            save_model(self.w.project.build_model(), path, overwrite=True)
        return self._export("Keras model", path, write)

    def export_script_dialog(self) -> None:
        path = self.ask_save_path("Export Keras script", "Python scripts (*.py)",
                                  f"{self._stem()}.py")
        if path:
            self.export_script(path)

    def export_script(self, path: str) -> bool:
        def write() -> None:
            from engine.io.codegen import keras_script
            text = keras_script(self.w.project.graph, self.w.project.training)
            Path(path).write_text(text, encoding="utf-8")
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
