"""ImageDataGenerator: geometry of each augmentation, fill modes, normalization, the flow and
flow_from_directory iterators (on real PNG files written here), and model.fit on them."""
import numpy as np
import pytest
from PIL import Image

from engine.data import DataError
from engine.kernels.augment import FILL_MODES, affine_warp
from engine.preprocessing.image import (ImageDataGenerator, apply_affine_transform,
                                        array_to_img, img_to_array, load_img)

RNG = np.random.default_rng(0)
IMG = RNG.random((9, 11, 3)).astype(np.float32)     # odd sizes: there is a centre pixel


def test_flips_equal_reversed_arrays():
    g = ImageDataGenerator()
    np.testing.assert_array_equal(g.apply_transform(IMG, {"flip_horizontal": True}),
                                  IMG[:, ::-1])
    np.testing.assert_array_equal(g.apply_transform(IMG, {"flip_vertical": True}), IMG[::-1])
    both = g.apply_transform(IMG, {"flip_horizontal": True, "flip_vertical": True})
    np.testing.assert_array_equal(both, IMG[::-1, ::-1])
    flow = ImageDataGenerator(horizontal_flip=True).flow(IMG[None].repeat(64, 0), shuffle=False,
                                                         seed=0, batch_size=64)
    batch = flow[0]
    flipped = [np.array_equal(b, IMG[:, ::-1]) for b in batch]
    same = [np.array_equal(b, IMG) for b in batch]
    assert all(f or s for f, s in zip(flipped, same)) and 10 < sum(flipped) < 54


@pytest.mark.parametrize("order", [0, 1])
def test_zoom_keeps_the_centre_pixel(order):
    g = ImageDataGenerator(interpolation_order=order, fill_mode="constant")
    for zx, zy in ((0.5, 0.5), (1.7, 0.8), (1.3, 1.3)):
        out = g.apply_transform(IMG, {"zx": zx, "zy": zy})
        np.testing.assert_array_equal(out[4, 5], IMG[4, 5])
    zoomed_in = g.apply_transform(IMG, {"zx": 0.5, "zy": 0.5})
    np.testing.assert_allclose(zoomed_in[4, 7], IMG[4, 6], atol=1e-6)   # 2 px out reads 1 px


def test_rotation_shift_and_shear_geometry():
    g = ImageDataGenerator(fill_mode="constant", cval=-1)
    sq = IMG[:9, :9]
    np.testing.assert_allclose(g.apply_transform(sq, {"theta": 90}), np.rot90(sq), atol=1e-6)
    np.testing.assert_allclose(g.apply_transform(sq, {"theta": 180}), sq[::-1, ::-1], atol=1e-6)
    moved = g.apply_transform(IMG, {"tx": 2})            # x shift: columns; reads 2 px right
    np.testing.assert_array_equal(moved[:, :-2], IMG[:, 2:])
    assert (moved[:, -2:] == -1).all()
    moved = g.apply_transform(IMG, {"ty": -3})
    np.testing.assert_array_equal(moved[3:], IMG[:-3])
    sheared = g.apply_transform(IMG, {"shear": 30})
    np.testing.assert_array_equal(sheared[4], IMG[4])      # the centre row does not move


def test_width_shift_range_shifts_horizontally():
    stripes = np.zeros((20, 20, 1), np.float32)
    stripes[:, ::2] = 1                                  # vertical stripes: only x moves show
    g = ImageDataGenerator(width_shift_range=0.3, fill_mode="wrap", interpolation_order=0)
    params = g.get_random_transform(stripes.shape, seed=1)
    assert params["ty"] == 0 and abs(params["tx"]) <= 6
    rows = ImageDataGenerator(height_shift_range=0.3, fill_mode="wrap", interpolation_order=0)
    for seed in range(5):
        np.testing.assert_array_equal(rows.random_transform(stripes, seed=seed), stripes)


@pytest.mark.parametrize("mode,expected", [
    ("constant", [9, 9, 0, 1, 2]),
    ("nearest", [0, 0, 0, 1, 2]),
    ("reflect", [1, 0, 0, 1, 2]),
    ("wrap", [3, 4, 0, 1, 2]),
])
@pytest.mark.parametrize("order", [0, 1])
def test_fill_modes(mode, expected, order):
    row = np.arange(5, dtype=np.float64).reshape(1, 1, 5, 1)    # float64 works too
    reads_left = np.array([[[1.0, 0, 0], [0, 1, -2]]])          # column q reads q - 2
    out = affine_warp(row, reads_left, order, FILL_MODES[mode], 9.0, np.empty_like(row), 1)
    assert out.dtype == np.float64 and out.ravel().tolist() == expected


def test_bilinear_interpolates_and_nearest_does_not():
    row = np.array([[[[0.0], [10.0]]]], np.float32)
    half = np.array([[[1.0, 0, 0], [0, 1, 0.25]]])
    assert affine_warp(row, half, 1, 1, 0.0, np.empty_like(row), 1)[0, 0, 0, 0] == 2.5
    assert affine_warp(row, half, 0, 1, 0.0, np.empty_like(row), 1)[0, 0, 0, 0] == 0.0


def test_channel_shift_and_brightness():
    x = np.linspace(0, 200, 27, dtype=np.float32).reshape(3, 3, 3)
    g = ImageDataGenerator()
    shifted = g.apply_transform(x, {"channel_shift_intensity": 50.0})
    np.testing.assert_allclose(shifted, np.clip(x + 50, 0, 200))
    bright = g.apply_transform(x, {"brightness": 1.5})
    np.testing.assert_array_equal(bright, np.floor(np.minimum(np.floor(x) * 1.5, 255)))
    scaled = x / 200.0                                  # [0, 1] data keeps its range
    out = g.apply_transform(scaled, {"brightness": 0.5})
    assert 0.0 <= out.min() and out.max() <= 0.5 + 1e-6


def test_standardize_rescale_and_samplewise():
    g = ImageDataGenerator(rescale=1 / 255, samplewise_center=True,
                           samplewise_std_normalization=True)
    batch = RNG.integers(0, 256, (4, 5, 5, 3)).astype(np.float32)
    out = g.standardize(batch.copy())
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 1, atol=1e-3)
    g = ImageDataGenerator(preprocessing_function=lambda im: im[::-1], rescale=2.0)
    np.testing.assert_array_equal(g.standardize(IMG.copy()), IMG[::-1] * 2)


def test_featurewise_statistics_need_fit():
    x = RNG.random((50, 6, 6, 3)).astype(np.float32) * [1, 10, 100]
    g = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True)
    with pytest.raises(ValueError, match="featurewise_center needs statistics .* call "
                                         r"datagen.fit\(x_train\) first"):
        g.standardize(x[:2].copy())
    g.fit(x)
    assert g.mean.shape == (1, 1, 3) and g.std.shape == (1, 1, 3)
    out = g.standardize(x.copy())
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1, atol=1e-3)
    z = ImageDataGenerator(zca_whitening=True)
    small = RNG.random((40, 3, 3, 1)).astype(np.float32)
    z.fit(small)
    white = z.standardize(small.copy()).reshape(40, -1)
    np.testing.assert_allclose(white.T @ white / 40, np.eye(9), atol=1e-3)
    g.fit(x, augment=True, rounds=2, seed=0)
    with pytest.raises(ValueError, match="expected images"):
        g.fit(x[0])


def test_flow_batches_subsets_and_seeds():
    x = RNG.random((10, 4, 4, 1)).astype(np.float32)
    y = np.arange(10) % 2
    g = ImageDataGenerator(rotation_range=30, validation_split=0.2)
    it = g.flow(x, y, batch_size=3, seed=5, sample_weight=np.ones(10))
    assert len(it) == 4 and [len(it[i][0]) for i in range(4)] == [3, 3, 3, 1]
    xb, yb, wb = it[0]
    assert xb.shape == (3, 4, 4, 1) and xb.dtype == np.float32 and wb.tolist() == [1, 1, 1]
    a = g.flow(x, y, batch_size=4, seed=5, shuffle=False)
    b = g.flow(x, y, batch_size=4, seed=5, shuffle=False)
    np.testing.assert_array_equal(a[0][0], b[0][0])     # seeded: the same augmentation
    assert not np.array_equal(a[1][0], g.flow(x, y, batch_size=4, seed=6, shuffle=False)[1][0])
    val = g.flow(x, y, batch_size=10, subset="validation", shuffle=False)
    train = g.flow(x, y, batch_size=10, subset="training", shuffle=False)
    assert val.n == 2 and train.n == 8 and val[0][1].tolist() == [0, 1]
    with pytest.raises(ValueError, match="different classes after the split"):
        g.flow(x, np.array([0] * 2 + [1] * 8), subset="training")
    xb, extra = next(ImageDataGenerator().flow((x, np.arange(10.0)), batch_size=4,
                                               shuffle=False))
    assert xb.shape == (4, 4, 4, 1) and extra.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="rank 4"):
        g.flow(x[0])
    with pytest.raises(ValueError, match="x has 10 images but y has 3 labels"):
        g.flow(x, y[:3])


def test_bad_generator_arguments():
    for kwargs, msg in (({"fill_mode": "mirror"}, "fill_mode must be one of"),
                        ({"zoom_range": [1, 2, 3]}, "zoom_range must be"),
                        ({"validation_split": 1.5}, "validation_split"),
                        ({"brightness_range": 0.5}, "brightness_range"),
                        ({"data_format": "channels_first"}, "channels_last"),
                        ({"rotation_range": -5}, "rotation_range")):
        with pytest.raises(ValueError, match=msg):
            ImageDataGenerator(**kwargs)


def write_pngs(root, classes=("cat", "dog", "emu"), per_class=5, size=(12, 10)):
    for k, cls in enumerate(classes):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.full(size + (3,), 30 * k + i, np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i}.png")
    return root


def test_flow_from_directory_on_real_pngs(tmp_path, capsys):
    root = write_pngs(tmp_path)
    g = ImageDataGenerator(rescale=1 / 255, validation_split=0.4)
    it = g.flow_from_directory(root, target_size=(6, 5), batch_size=4, shuffle=False)
    assert "Found 15 images belonging to 3 classes." in capsys.readouterr().out
    assert it.class_indices == {"cat": 0, "dog": 1, "emu": 2} and it.samples == 15
    assert it.filenames[0] == "cat/0.png" and len(it) == 4
    xb, yb = it[0]
    assert xb.shape == (4, 6, 5, 3) and yb.shape == (4, 3) and yb.dtype == np.float32
    np.testing.assert_allclose(xb[1], 1 / 255)           # cat/1.png holds pixel value 1
    assert yb.argmax(1).tolist() == [0, 0, 0, 0]
    val = g.flow_from_directory(root, (6, 5), "grayscale", class_mode="sparse",
                                subset="validation", shuffle=False)
    assert val.samples == 6 and val.filenames[:3] == ["cat/0.png", "cat/1.png", "dog/0.png"]
    xb, yb = val[0]
    assert xb.shape == (6, 6, 5, 1) and yb.tolist() == [0, 0, 1, 1, 2, 2]
    train = g.flow_from_directory(root, (6, 5), subset="training", class_mode=None)
    assert train.samples == 9 and isinstance(train[0], np.ndarray)
    xb, yb = g.flow_from_directory(root, (6, 5), class_mode="input", batch_size=2)[0]
    np.testing.assert_array_equal(xb, yb)
    binary = g.flow_from_directory(root, (6, 5), classes=["emu", "cat"], class_mode="binary",
                                   shuffle=False, batch_size=10)
    assert binary.class_indices == {"emu": 0, "cat": 1} and binary[0][1].tolist() == \
        [0.0] * 5 + [1.0] * 5


def test_flow_from_directory_bad_input(tmp_path):
    root = write_pngs(tmp_path, per_class=2)
    g = ImageDataGenerator()
    (root / "fox").mkdir()
    with pytest.raises(DataError, match="class folder 'fox' has no images"):
        g.flow_from_directory(root)
    (root / "fox").rmdir()
    Image.fromarray(RNG.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(root / "dog" /
                                                                            "1.png")
    raw = (root / "dog" / "1.png").read_bytes()
    (root / "dog" / "1.png").write_bytes(raw[:len(raw) * 2 // 3])
    it = g.flow_from_directory(root, (4, 4), batch_size=6, shuffle=False)
    with pytest.raises(DataError, match="dog/1.png: (truncated|not a readable image)"):
        it[0]
    with pytest.raises(DataError, match="no such folder"):
        g.flow_from_directory(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="class_mode must be one of"):
        g.flow_from_directory(root, class_mode="onehot")


def test_model_fits_on_generators(tmp_path):
    from engine.layers import Dense, Flatten
    from engine.models import Sequential
    root = write_pngs(tmp_path, classes=("a", "b"), per_class=4, size=(8, 8))
    g = ImageDataGenerator(rescale=1 / 255, rotation_range=10, horizontal_flip=True)
    model = Sequential([Flatten(input_shape=(8, 8, 3)), Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(g.flow_from_directory(root, (8, 8), batch_size=4), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    x = RNG.random((12, 8, 8, 3)).astype(np.float32)
    y = np.eye(2)[np.arange(12) % 2]
    history = model.fit(g.flow(x, y, batch_size=5), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_image_helpers_and_keras_affine_function(tmp_path):
    img = array_to_img(IMG * 255, scale=False)
    img.save(tmp_path / "i.png")
    assert img_to_array(load_img(tmp_path / "i.png", target_size=(3, 4))).shape == (3, 4, 3)
    chw = np.moveaxis(IMG, 2, 0)
    out = apply_affine_transform(chw, tx=2, fill_mode="constant")     # Keras: channels first
    np.testing.assert_array_equal(out[:, :, :-2], chw[:, :, 2:])
    hwc = apply_affine_transform(IMG, theta=0, zx=1, row_axis=0, col_axis=1, channel_axis=2)
    np.testing.assert_array_equal(hwc, IMG)
