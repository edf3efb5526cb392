"""The Random* augmentation layers: Keras 3's exact geometry, fill modes, interpolation and
clipping (draws pinned by a zero-width range, tests/fixtures/keras/
make_augmentation_fixtures.py), identity outside training, random per image, gradients by
finite differences (the draws held fixed), and use in fit."""
from pathlib import Path

import numpy as np
import pytest

import engine as keras
from engine import layers as L
from tests.gradcheck import check_layer

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keras" / "augmentation.npz"
CASES = {
    "rotation_reflect": lambda: L.RandomRotation((0.1, 0.1)),
    "rotation_wrap_nearest": lambda: L.RandomRotation((-0.2, -0.2), fill_mode="wrap",
                                                      interpolation="nearest"),
    "rotation_constant": lambda: L.RandomRotation((0.3, 0.3), fill_mode="constant",
                                                  fill_value=7.0),
    "rotation_nearest_fill": lambda: L.RandomRotation((0.05, 0.05), fill_mode="nearest"),
    "zoom_out": lambda: L.RandomZoom((0.3, 0.3)),
    "zoom_in_aspect": lambda: L.RandomZoom((-0.2, -0.2), (0.4, 0.4), fill_mode="constant"),
    "translation": lambda: L.RandomTranslation((0.2, 0.2), (-0.15, -0.15)),
    "translation_wrap": lambda: L.RandomTranslation((-0.3, -0.3), (0.1, 0.1),
                                                    fill_mode="wrap"),
    "contrast": lambda: L.RandomContrast((-0.3, 0.3)),
    "brightness": lambda: L.RandomBrightness((0.3, 0.3)),
    "brightness_unit": lambda: L.RandomBrightness((-0.2, -0.2), value_range=(0, 1)),
    "crop_fallback": lambda: L.RandomCrop(7, 5),
    "crop_resize": lambda: L.RandomCrop(9, 12),
}


@pytest.mark.parametrize("case", CASES)
def test_training_output_matches_keras(case):
    d = np.load(FIX)
    x = d["x"] / 255.0 if case == "brightness_unit" else d["x"]
    got = CASES[case]()(x, training=True)
    np.testing.assert_allclose(got, d[case], rtol=1e-5, atol=2e-3 if case != "brightness_unit"
                               else 1e-5)


def test_inference_passes_images_through():
    x = np.random.default_rng(0).uniform(0, 255, (3, 6, 5, 2)).astype(np.float32)
    for make in CASES.values():
        layer = make()
        if isinstance(layer, L.RandomCrop):
            continue
        np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(L.RandomFlip()(x), x)
    assert L.RandomCrop(6, 5)(x).shape == (3, 6, 5, 2)
    assert L.RandomCrop(4, 4)(x).shape == (3, 4, 4, 2)      # inference: the target size


def test_random_per_image_and_seeded():
    x = np.random.default_rng(1).uniform(0, 1, (64, 4, 5, 1)).astype(np.float32)
    out = L.RandomFlip("horizontal", seed=3)(x, training=True)
    same = [np.array_equal(o, i) for o, i in zip(out, x)]
    flipped = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, x)]
    assert all(s or f for s, f in zip(same, flipped)) and 10 < sum(flipped) < 54
    both = L.RandomFlip(seed=4)(x, training=True)
    assert all(np.array_equal(o, i) or np.array_equal(o, i[::-1, ::-1])
               for o, i in zip(both, x))
    a = L.RandomRotation(0.2, seed=7)(x, training=True)
    b = L.RandomRotation(0.2, seed=7)(x, training=True)
    np.testing.assert_array_equal(a, b)
    copies = L.RandomRotation(0.2, seed=7)(np.repeat(x[:1], 4, axis=0), training=True)
    assert not np.allclose(copies[0], copies[1])       # one angle per image, not per batch
    crop = L.RandomCrop(3, 3, seed=0)
    seen = {tuple(np.argwhere(np.isin(x[0, ..., 0], crop(x, training=True)[0, ..., 0]))[0])
            for _ in range(12)}
    assert len(seen) > 1                       # the window moves between batches


def _pinned(layer):
    """The layer with its random draws fixed, for a finite-difference check."""
    state = layer._rng.bit_generator.state
    forward = layer.forward

    def pinned_forward(x, training=False):
        layer._rng.bit_generator.state = state
        return forward(x, training)
    layer.forward = pinned_forward
    return layer


@pytest.mark.parametrize("make", [
    lambda: L.RandomRotation(0.2, seed=1),
    lambda: L.RandomRotation(0.3, fill_mode="constant", seed=2),
    lambda: L.RandomRotation(0.2, fill_mode="wrap", interpolation="nearest", seed=3),
    lambda: L.RandomZoom((-0.3, 0.4), (0.1, 0.3), seed=4),
    lambda: L.RandomTranslation(0.3, 0.2, fill_mode="nearest", seed=5),
    lambda: L.RandomFlip(seed=6),
    lambda: L.RandomContrast(0.4, value_range=(-2, 2), seed=7),
    lambda: L.RandomBrightness(0.3, value_range=(-2, 2), seed=8),
    lambda: L.RandomCrop(3, 4, seed=9),
    lambda: L.RandomCrop(5, 9, seed=9),                       # the resize path
])
def test_gradients(make):
    x = np.random.default_rng(0).standard_normal((2, 5, 6, 2))
    check_layer(_pinned(make()), x, training=True)


def test_errors_and_configs():
    with pytest.raises(ValueError, match="RandomRotation 'r': argument 'factor' expects a "
                                         "value <= 1.0"):
        L.RandomRotation(1.5, name="r")
    with pytest.raises(ValueError, match="must be above -1"):
        L.RandomZoom(-1.0)
    with pytest.raises(ValueError, match="'value_range' must be a .low, high. pair"):
        L.RandomBrightness(0.1, value_range=(1, 0))
    with pytest.raises(ValueError, match="arguments 'height' and 'width' are required"):
        L.RandomCrop(height=3)
    layer = L.RandomZoom((0.1, 0.2), seed=3)
    cfg = layer.get_config()
    assert cfg["height_factor"] == [0.1, 0.2] and cfg["width_factor"] is None
    assert L.RandomZoom.from_config(cfg).get_config() == cfg


def test_fit_uses_them_in_training_only(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (32, 8, 8, 1)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 32)]
    model = keras.Sequential([
        keras.Input((8, 8, 1)), L.RandomFlip("horizontal"), L.RandomRotation(0.1),
        L.RandomZoom(0.1), L.RandomTranslation(0.1, 0.1), L.RandomContrast(0.2, (0, 1)),
        L.RandomBrightness(0.1, (0, 1)), L.RandomCrop(6, 6), L.Flatten(),
        L.Dense(2, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    p1, p2 = model.predict(x, verbose=0), model.predict(x, verbose=0)
    np.testing.assert_array_equal(p1, p2)           # inference is deterministic
    model.save(tmp_path / "aug.h5")
    again = keras.models.load_model(tmp_path / "aug.h5")
    np.testing.assert_allclose(again.predict(x, verbose=0), p1, rtol=1e-6)


def test_real_keras_reads_our_h5(tmp_path):
    from tests.real_keras import run_real_keras
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 255, (4, 10, 9, 3)).astype(np.float32)
    model = keras.Sequential([
        keras.Input((10, 9, 3)), L.RandomFlip("horizontal", seed=1),
        L.RandomRotation((-0.1, 0.2), fill_mode="constant", fill_value=3.0),
        L.RandomZoom(0.1, (-0.2, 0.1), interpolation="nearest"), L.RandomTranslation(0.1, 0.2),
        L.RandomContrast(0.3), L.RandomBrightness((-0.1, 0.2), value_range=(0, 255)),
        L.RandomCrop(8, 9), L.Flatten(), L.Dense(2)])
    model.save(tmp_path / "aug.h5")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", model.predict(x, verbose=0))
    run_real_keras(
        "import numpy as np, keras\n"
        "m = keras.models.load_model('aug.h5')\n"
        "assert [type(l).__name__ for l in m.layers][:7] == ['RandomFlip', 'RandomRotation',"
        " 'RandomZoom', 'RandomTranslation', 'RandomContrast', 'RandomBrightness', 'RandomCrop']\n"
        "assert m.layers[1].fill_value == 3.0 and m.layers[6].height == 8\n"
        "x = np.load('x.npy')\n"
        # Keras 3.15's RandomCrop passes images through in inference; ours crops the centre
        # rows 1..8, which is what Keras then sees
        "np.testing.assert_allclose(m.predict(x[:, 1:9], verbose=0), np.load('y.npy'),"
        " rtol=1e-5, atol=1e-3)\n", tmp_path)
