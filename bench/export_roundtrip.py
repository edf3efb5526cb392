"""Largest prediction differences of the four example projects through every exit and entry:
engine → .keras → Keras 3, engine → .weights.h5 → Keras 3, Keras 3 → .keras → engine,
Keras 3 → .weights.h5 → engine, engine → .onnx → ONNX Runtime, and engine → Keras model
(Run on Keras). Needs the [keras] and [onnx] extras (JAX backend).

    python -m bench.export_roundtrip
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("KERAS_BACKEND", "jax")

from engine.io.onnx_export import export_onnx
from engine.keras_backend.convert import to_keras
from engine.keras_backend.probe import import_keras
from engine.project import load_project
from engine.saving import load_model
from tests.model_zoo import perturb

EXAMPLES = ("mnist_mlp", "mnist_cnn", "cifar10_cnn", "imdb_lstm")


def _inputs(model, name: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    shape = (16, *model.inputs[0].shape[1:])
    if name == "imdb_lstm":
        return rng.integers(0, 10000, shape).astype(np.int32)
    return rng.random(shape).astype(np.float32)


def _diff(a, b) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b)).max())


def main() -> None:
    import onnxruntime as ort
    keras = import_keras()
    print(f"Keras {keras.__version__} ({keras.backend.backend()}), ONNX Runtime "
          f"{ort.__version__}; largest |difference| of 16 predictions")
    print(f"{'model':12s} {'.keras→K':>10s} {'.w.h5→K':>10s} {'K→.keras':>10s} "
          f"{'K→.w.h5':>10s} {'ONNX':>10s} {'to_keras':>10s}")
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in EXAMPLES:
            project = load_project(root / "examples" / f"{name}.loom")
            model = project.build_model()
            perturb(model, seed=5)
            model.compile(**project.training.compile_args())
            x = _inputs(model, name)
            ours = model.predict(x, verbose=0)
            model.save(tmp / f"{name}.keras")
            km = keras.saving.load_model(tmp / f"{name}.keras")
            row = [_diff(ours, km.predict(x, verbose=0))]
            model.save_weights(tmp / f"{name}.weights.h5")
            for layer in km.layers:
                layer.set_weights([w * 0 for w in layer.get_weights()])
            km.load_weights(tmp / f"{name}.weights.h5")
            row.append(_diff(ours, km.predict(x, verbose=0)))
            for layer in km.layers:                    # Keras writes, the engine reads
                layer.set_weights([w * 1.1 for w in layer.get_weights()])
            theirs = km.predict(x, verbose=0)
            km.save(tmp / f"{name}_k.keras")
            row.append(_diff(theirs, load_model(tmp / f"{name}_k.keras").predict(x, verbose=0)))
            km.save_weights(tmp / f"{name}_k.weights.h5")
            back = project.build_model()
            back.load_weights(tmp / f"{name}_k.weights.h5")
            row.append(_diff(theirs, back.predict(x, verbose=0)))
            export_onnx(model, tmp / f"{name}.onnx")
            sess = ort.InferenceSession(str(tmp / f"{name}.onnx"),
                                        providers=["CPUExecutionProvider"])
            row.append(_diff(ours, sess.run(None, {sess.get_inputs()[0].name: x})[0]))
            row.append(_diff(ours, to_keras(keras, model).predict(x, verbose=0)))
            print(f"{name:12s} " + " ".join(f"{v:10.2e}" for v in row))


if __name__ == "__main__":
    main()
