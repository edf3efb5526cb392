"""The seed tutorials' code runs on the engine with only its imports changed.

Every ```python block of each document in ``../shared/seeds/`` is run in order as one script,
with ``keras`` imports rewritten to ``engine`` and nothing else changed. The documents leave their
data undefined (``x_train``...) or load data sets: a prelude gives small arrays of the shapes the
code expects, the data set loaders return small samples, and fits run one short epoch (the point is
the API, not the accuracy, which examples/ measures). Skipped when ../shared is not there.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
DOCS = sorted(SEEDS.glob("*.txt")) if SEEDS.is_dir() else []
BLOCK = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.S)


def engine_imports(code: str) -> str:
    """The one change a user makes: ``keras`` → ``engine`` in import lines."""
    code = re.sub(r"^(\s*)import keras\s*$", r"\1import engine as keras", code, flags=re.M)
    code = re.sub(r"^(\s*)from keras(\.[\w.]+)? import", r"\1from engine\2 import", code,
                  flags=re.M)
    return code


def seed_scripts() -> list:
    """Each document's blocks as scripts: a block that imports after a fit starts a new one
    (documents show several independent programs one after another)."""
    out = []
    for doc in DOCS:
        scripts: list[list[str]] = []
        for block in BLOCK.findall(doc.read_text(encoding="utf-8")):
            imports = re.search(r"^\s*(from keras|import keras)", block, re.M)
            if not scripts or (imports and any(".fit" in b for b in scripts[-1])):
                scripts.append([])
            scripts[-1].append(block)
        for i, blocks in enumerate(scripts):
            out.append(pytest.param("\n".join(blocks), id=f"{doc.stem}-{i + 1}"))
    return out


def data_for(script: str, rng) -> dict:
    """``x_train``... for a script that leaves them to the reader, shaped for its first layer."""
    compact = script.replace(" ", "")
    if "input_shape=(28,28,1)" in compact:
        shape = (28, 28, 1)
    elif "input_shape=(sequence_length,num_features)" in compact:
        shape = (12, 100)
    else:
        shape = (100,)
    return {"x_train": rng.random((64,) + shape, dtype=np.float32),
            "y_train": np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)],
            "x_test": rng.random((32,) + shape, dtype=np.float32),
            "y_test": np.eye(10, dtype=np.float32)[rng.integers(0, 10, 32)],
            "sequence_length": 12, "num_features": 100}


@pytest.fixture
def small_world(monkeypatch, tmp_path):
    """Small stand-ins for the data the tutorials load, and one short epoch per fit."""
    from PIL import Image

    from engine.datasets import cifar10, imdb, mnist
    rng = np.random.default_rng(0)
    monkeypatch.setattr(mnist, "load_data", lambda *a, **k: (
        (rng.integers(0, 256, (64, 28, 28), dtype=np.uint8), rng.integers(0, 10, 64)),
        (rng.integers(0, 256, (32, 28, 28), dtype=np.uint8), rng.integers(0, 10, 32))))
    monkeypatch.setattr(cifar10, "load_data", lambda *a, **k: (
        (rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, (64, 1))),
        (rng.integers(0, 256, (32, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, (32, 1)))))

    def reviews(n):
        return [list(rng.integers(1, 10000, rng.integers(5, 300))) for _ in range(n)]
    monkeypatch.setattr(imdb, "load_data", lambda *a, **k: (
        (reviews(48), rng.integers(0, 2, 48)), (reviews(16), rng.integers(0, 2, 16))))
    for split in ("train", "test"):
        for k in range(10):
            folder = tmp_path / "data" / split / f"class{k}"
            folder.mkdir(parents=True)
            for i in range(2):
                Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(
                    folder / f"{i}.jpg")
    monkeypatch.chdir(tmp_path)

    from engine.models import Model
    real_fit = Model.fit
    fits = []

    def short_fit(self, *args, **kwargs):
        kwargs["epochs"] = 1
        for key, cap in (("steps_per_epoch", 2), ("validation_steps", 1)):
            if kwargs.get(key):
                kwargs[key] = min(kwargs[key], cap)
        fits.append(self)
        return real_fit(self, *args, **kwargs)
    monkeypatch.setattr(Model, "fit", short_fit)
    return rng, fits


def _run(code: str, namespace: dict) -> None:
    exec(compile(code, "<seed>", "exec"), namespace)  # noqa: S102 - our own test fixture text


@pytest.mark.skipif(not DOCS, reason="../shared/seeds is not here")
@pytest.mark.parametrize("code", seed_scripts())
def test_seed_tutorial_runs_with_only_its_imports_changed(code, small_world):
    rng, fits = small_world
    namespace = dict(data_for(code, rng), __name__="__seed__")
    script = engine_imports(code)
    if "import engine as keras" not in script and re.search(r"\bkeras\.", script):
        # the document uses keras.utils/keras.preprocessing without importing keras (it assumes
        # an earlier `import keras`); the user adds that import with the others
        script = "import engine as keras\n" + script
    if "mnist.load_data" in script and "reshape" not in script:
        # the seed's own MNIST CNN forgets the channel axis: the engine says what to do
        with pytest.raises(ValueError, match=r"expand_dims|Reshape"):
            _run(script, namespace)
        assert fits, "the model was built and fit was reached"
        return
    _run(script, namespace)
    assert fits, "the tutorial trains a model"
    for model in fits:
        assert model.history.history["loss"] and np.isfinite(model.history.history["loss"][-1])
