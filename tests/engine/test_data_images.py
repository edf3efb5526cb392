"""Image files and image folders: formats, colour modes, resizing, and damaged files named."""
import numpy as np
import pytest
from PIL import Image

from engine.data import (DataError, array_to_img, img_to_array, list_image_folder, load_image,
                         load_img, read_image_folder, save_img)


def make_folder(root, classes=("cat", "dog"), per_class=2, size=(5, 6), fmt="png"):
    for k, cls in enumerate(classes):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.full(size + (3,), 40 * (k + 1) + i, np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i}.{fmt}")


def truncated_png(path, size=(16, 16)):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, size + (3,), dtype=np.uint8)).save(path)
    raw = path.read_bytes()
    path.write_bytes(raw[:len(raw) * 2 // 3])


def test_formats_and_colour_modes(tmp_path):
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[:, :, 0] = 200
    for fmt in ("png", "bmp", "gif", "jpg"):
        Image.fromarray(rgb).save(tmp_path / f"a.{fmt}")
        x = load_image(tmp_path / f"a.{fmt}")
        assert x.shape == (4, 6, 3) and x.dtype == np.float32
        assert abs(x[0, 0, 0] - 200) <= 3 and x[0, 0, 1] <= 3       # jpeg is lossy
    grey = load_image(tmp_path / "a.png", color_mode="grayscale")
    assert grey.shape == (4, 6, 1)
    assert load_img(tmp_path / "a.png", color_mode="rgba").mode == "RGBA"
    assert load_image(tmp_path / "a.png", target_size=(2, 3)).shape == (2, 3, 3)


def test_keep_aspect_ratio_crops_the_centre(tmp_path):
    pixels = np.zeros((4, 8), np.uint8)
    pixels[:, 2:6] = 255                       # a white centre square, black sides
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    img = load_img(tmp_path / "wide.png", "grayscale", (2, 2), keep_aspect_ratio=True)
    assert np.asarray(img).min() == 255


def test_array_image_round_trip(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (5, 7, 3)).astype(np.float32)
    save_img(tmp_path / "r.png", x, scale=False)
    np.testing.assert_array_equal(img_to_array(load_img(tmp_path / "r.png")), x)
    assert img_to_array(array_to_img(x), data_format="channels_first").shape == (3, 5, 7)
    stretched = img_to_array(array_to_img(np.array([[[0.0], [0.5]]])))
    assert stretched.ravel().tolist() == [0, 255]
    with pytest.raises(DataError, match="1, 3 or 4 channels"):
        array_to_img(np.zeros((2, 2, 2)))


def test_unreadable_and_truncated_images_are_named(tmp_path):
    truncated_png(tmp_path / "cut.png")
    with pytest.raises(DataError) as e:
        load_image(tmp_path / "cut.png")
    assert e.value.file == tmp_path / "cut.png" and str(e.value).startswith(f"{e.value.file}: ")
    assert e.value.reason.startswith("truncated (image file is truncated")
    (tmp_path / "text.jpg").write_text("not an image")
    with pytest.raises(DataError, match="text.jpg: not a readable image"):
        load_image(tmp_path / "text.jpg")
    with pytest.raises(DataError, match="no such file"):
        load_image(tmp_path / "gone.png")


def test_image_folder(tmp_path):
    make_folder(tmp_path)
    (tmp_path / "dog" / "nested").mkdir()
    Image.fromarray(np.zeros((5, 6, 3), np.uint8)).save(tmp_path / "dog" / "nested" / "n.bmp")
    (tmp_path / "dog" / "readme.txt").write_text("not an image")
    x, y, classes, skipped = read_image_folder(tmp_path)
    assert x.shape == (5, 5, 6, 3) and y.tolist() == [0, 0, 1, 1, 1]
    assert classes == ["cat", "dog"] and skipped == []
    files, _ = list_image_folder(tmp_path, classes=["dog"])
    assert [p.name for p, _ in files] == ["0.png", "1.png", "n.bmp"]


def test_image_folder_bad_input(tmp_path):
    make_folder(tmp_path)
    truncated_png(tmp_path / "cat" / "broken.png")
    with pytest.raises(DataError, match="broken.png: truncated \\(image file is truncated"):
        read_image_folder(tmp_path, target_size=(5, 6))
    x, y, _, skipped = read_image_folder(tmp_path, skip_bad=True)
    assert len(x) == 4 and skipped == [str(tmp_path / "cat" / "broken.png")]
    Image.new("RGB", (9, 9)).save(tmp_path / "dog" / "big.png")
    with pytest.raises(DataError, match=r"big.png: has size \(9, 9\), the first image has "
                                        r"\(5, 6\); give a target_size"):
        read_image_folder(tmp_path, skip_bad=True)
    assert read_image_folder(tmp_path, (3, 3), skip_bad=True)[0].shape == (5, 3, 3, 3)
    (tmp_path / "bird").mkdir()
    (tmp_path / "bird" / "notes.txt").write_text("no pictures yet")
    with pytest.raises(DataError, match="class folder 'bird' has no images .* it holds: "
                                        "notes.txt") as e:
        read_image_folder(tmp_path, skip_bad=True)
    assert e.value.file == tmp_path / "bird"


def test_folder_without_class_subfolders(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    with pytest.raises(DataError, match="no class subfolders; it holds 1 images directly"):
        list_image_folder(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        list_image_folder(tmp_path / "missing")


def test_bad_arguments():
    with pytest.raises(DataError, match="color_mode must be one of"):
        load_img("x.png", color_mode="cmyk")
    with pytest.raises(DataError, match="target_size must be"):
        load_img("x.png", target_size=(0, 4))
    with pytest.raises(DataError, match="interpolation must be one of"):
        load_img("x.png", interpolation="cubic-ish")


def test_a_folder_too_big_for_memory_says_what_to_do(tmp_path, monkeypatch):
    from engine.data import images
    for k in ("a", "b"):
        (tmp_path / k).mkdir()
        for i in range(3):
            Image.new("RGB", (8, 8), (i, 0, 0)).save(tmp_path / k / f"{i}.png")
    monkeypatch.setattr(images, "memory_budget", lambda: 1000)
    with pytest.raises(DataError, match=r"6 images of \(8, 8, 3\) need .* choose a smaller "
                                        r"target_size .* streaming=True"):
        images.read_image_folder(tmp_path)
