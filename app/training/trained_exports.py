"""Training → Export Trained Model (.h5) and Export Keras Script: ask where, write the model
being trained (or the project's stored weights after a reopen), and say what failed."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog

from app.training import run_setup

if TYPE_CHECKING:
    from app.training.controller import TrainingController


class TrainedExports:
    def __init__(self, controller: TrainingController):
        self.c = controller

    def _ask(self, title: str, suggested: str, filters: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.c.parent_widget, title, suggested, filters)
        return path or None

    def trained_model(self):
        """The model being trained, else one built with the project's stored weights (a
        reopened trained project); None when there is nothing trained."""
        c = self.c
        if c.session.model is None and c.has_stored_weights():
            try:
                c.session.model_for(c.project)
            except run_setup.SetupError as e:
                c.warn("Export failed", str(e))
        return c.session.model

    def export_h5(self, path: str | None = None) -> Path | None:
        """Save the trained model as Keras HDF5 (asks for a file name when ``path`` is None)."""
        model = self.trained_model()
        if model is None:
            return None
        path = path or self._ask("Export trained model", f"{model.name}.h5", "Keras HDF5 (*.h5)")
        if not path:
            return None
        try:
            return run_setup.export_h5(model, path)
        except (OSError, ValueError) as e:
            self.c.warn("Export failed", f"Could not write {path}: {e}")
            return None

    def export_script(self, path: str | None = None) -> Path | None:
        """Write a Keras script (and, when trained, the weights it loads next to it)."""
        project = self.c.project
        if project is None:
            return None
        path = path or self._ask("Export Keras script", "train_model.py", "Python (*.py)")
        if not path:
            return None
        try:
            return run_setup.export_script(project, self.c.session.model, path)
        except (OSError, ValueError) as e:
            self.c.warn("Export failed", f"Could not write {path}: {e}")
            return None
