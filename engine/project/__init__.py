"""A LayerLoom project (:mod:`~engine.project.project`) and its ``.loom`` file
(:mod:`~engine.project.file`)."""
from engine.project.file import (UnsafeProjectError, autosave_path, autosave_project,
                                 find_autosave, load_project, save_project)
from engine.project.project import Project, ProjectError, RunRecord, TrainingConfig

__all__ = ["Project", "ProjectError", "RunRecord", "TrainingConfig", "UnsafeProjectError",
           "autosave_path", "autosave_project", "find_autosave", "load_project", "save_project"]
