"""Export a project as a Keras script that runs: the script, the trained weights beside it
(``<script>.weights.h5``, Keras 3's layout, optimizer state included) and — for data a script
cannot read by itself — the project's arrays (``<script>_data.npz``).

Everything is checked and generated before any file is written, so a project that cannot be
exported leaves nothing behind.
"""
from __future__ import annotations

import os
from pathlib import Path

from engine.io.atomic import atomic_path
from engine.io.codegen import keras_script
from engine.io.script_data import data_file_name, write_data_file, writes_data_file


def export_script(project, filepath, model=None, flavour: str = "keras") -> list[Path]:
    """Write the script for ``project`` (and its weights and data files); ``model`` is the
    trained model (default: the project's stored weights, if any). Returns the files written,
    the script first."""
    path = Path(os.fspath(filepath))
    if model is None and project.weights:
        model = project.build_model()
    if model is not None and not getattr(model, "compiled", False):
        model.compile(**project.training.compile_args())
    weights = f"{path.stem}.weights.h5" if model is not None else None
    data = data_file_name(path) if writes_data_file(project.data_source) else None
    text = keras_script(project.graph, project.training, weights_path=weights,
                        flavour=flavour, data_source=project.data_source, data_file=data,
                        script_name=path.name)
    written = [path]
    if weights is not None:
        model.save_weights(path.with_name(weights))
        written.append(path.with_name(weights))
    if data is not None:
        written.append(write_data_file(project.data_source, path.with_name(data)))
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return written
