"""Image files and image folders (one subfolder per class), read with Pillow.

Keras's ``load_img`` / ``img_to_array`` / ``array_to_img`` / ``save_img`` live here (the
preprocessing module re-exports them). Unreadable and truncated files raise :class:`DataError`
naming the file; Pillow's ``LOAD_TRUNCATED_IMAGES`` is never switched on, so a damaged file is
never silently half-black.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from engine import backend
from engine.data.errors import DataError
from engine.data.loaders import class_folders
from engine.io.bounded import FLOOR_BYTES, RATIO

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".tif", ".tiff")
COLOR_MODES = {"grayscale": ("L", 1), "rgb": ("RGB", 3), "rgba": ("RGBA", 4)}
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")
# the largest image decoded (Pillow's MAX_IMAGE_PIXELS idea, checked from the header before
# decoding): 40 million pixels as float32 RGB is 480 MB, which keeps one image well under 1 GB
MAX_IMAGE_PIXELS = 40_000_000
_SHOWN_FILES = 5  # how many file names an error lists


def _pil():
    from PIL import Image
    return Image


def _check_color_mode(color_mode: str) -> None:
    if color_mode not in COLOR_MODES:
        raise DataError(f"color_mode must be one of {', '.join(COLOR_MODES)}, got "
                        f"{color_mode!r}")


def _check_target_size(target_size):
    if target_size is None:
        return None
    try:
        h, w = (int(v) for v in target_size)
    except (TypeError, ValueError):
        raise DataError(f"target_size must be (height, width), got {target_size!r}") from None
    if h < 1 or w < 1:
        raise DataError(f"target_size must be positive, got {target_size!r}")
    return h, w


def load_img(path, color_mode: str = "rgb", target_size=None, interpolation: str = "nearest",
             keep_aspect_ratio: bool = False):
    """Keras's ``load_img``: a PIL image in ``color_mode`` ("grayscale", "rgb", "rgba"),
    resized to ``target_size`` = (height, width) when given. With ``keep_aspect_ratio`` the
    image is first cropped at its centre to the target's aspect ratio."""
    Image = _pil()
    from PIL import UnidentifiedImageError
    _check_color_mode(color_mode)
    size = _check_target_size(target_size)
    if interpolation not in INTERPOLATIONS:
        raise DataError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got "
                        f"{interpolation!r}")
    try:
        with warnings.catch_warnings():      # our own pixel limit below is the lower one
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            _check_pixels(im, path)
            im.load()                         # decode now: truncated files fail here
            img = im.convert(COLOR_MODES[color_mode][0])
    except DataError:
        raise
    except Image.DecompressionBombError as e:
        raise DataError(f"declares an image far larger than LayerLoom reads (at most "
                        f"{MAX_IMAGE_PIXELS / 1e6:,.0f} million pixels): {e}", path) from None
    except FileNotFoundError:
        raise DataError("no such file", path) from None
    except UnidentifiedImageError:
        raise DataError("not a readable image (unknown or damaged format)", path) from None
    except (OSError, SyntaxError, ValueError) as e:
        reason = "truncated" if "truncated" in str(e).lower() else "not a readable image"
        raise DataError(f"{reason} ({e})", path) from None
    if size is not None and (img.height, img.width) != size:
        h, w = size
        if keep_aspect_ratio:
            cw = min(img.width, img.height * w // h)
            ch = min(img.height, img.width * h // w)
            left, top = (img.width - cw) // 2, (img.height - ch) // 2
            img = img.crop((left, top, left + cw, top + ch))
        img = img.resize((w, h), getattr(Image.Resampling, interpolation.upper()))
    return img


def _check_pixels(im, path) -> None:
    """Refuse an image whose header declares more than ``MAX_IMAGE_PIXELS`` (before any
    pixel is decoded: a few-KB PNG can declare 12000 × 12000)."""
    w, h = im.size
    if w * h > MAX_IMAGE_PIXELS:
        raise DataError(f"is {w:,} × {h:,} pixels ({w * h / 1e6:,.1f} million); LayerLoom reads "
                        f"images of up to {MAX_IMAGE_PIXELS / 1e6:,.0f} million pixels, so "
                        f"scale it down first", path)


def img_to_array(img, data_format: str | None = None, dtype=None) -> np.ndarray:
    """A PIL image as an (H, W, C) array (channels last; (C, H, W) for channels_first)."""
    x = np.asarray(img, dtype=dtype or backend.floatx())
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise DataError(f"unsupported image shape {x.shape}")
    return x.transpose(2, 0, 1).copy() if data_format == "channels_first" else x


def array_to_img(x, data_format: str | None = None, scale: bool = True, dtype=None):
    """An (H, W, C) array (C = 1, 3 or 4) as a PIL image; ``scale`` stretches the values to
    0..255 first (as Keras does)."""
    Image = _pil()
    x = np.asarray(x, dtype=dtype or backend.floatx())
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise DataError(f"expected an image array of rank 3 (H, W, C), got shape {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        top = np.max(x)
        if top != 0:
            x = x / top
        x = x * 255
    channels = x.shape[2]
    if channels not in (1, 3, 4):
        raise DataError(f"an image needs 1, 3 or 4 channels, got {channels} (shape {x.shape})")
    u8 = np.clip(x, 0, 255).astype(np.uint8)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
    return Image.fromarray(u8[:, :, 0] if channels == 1 else u8, mode)


def save_img(path, x, data_format: str | None = None, file_format: str | None = None,
             scale: bool = True, **kwargs) -> None:
    """Save an (H, W, C) array as an image file (format from the suffix unless given)."""
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and (file_format or Path(path).suffix.lstrip(".")).lower() in \
            ("jpg", "jpeg"):
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def load_image(path, target_size=None, color_mode: str = "rgb",
               interpolation: str = "nearest") -> np.ndarray:
    """One image file as float32 (H, W, C) with values 0..255."""
    return img_to_array(load_img(path, color_mode, target_size, interpolation),
                        dtype=np.float32)


def _image_files(folder: Path, follow_links: bool) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder, followlinks=follow_links):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / f for f in sorted(files)
                  if f.lower().endswith(IMAGE_SUFFIXES) and not f.startswith(".")]
    return sorted(found)


def list_image_folder(root, classes: list[str] | None = None, follow_links: bool = False
                      ) -> tuple[list[tuple[Path, int]], list[str]]:
    """(image files with their class index, class names) of a folder holding one subfolder
    per class (images may sit in nested folders below it). Class order is alphabetical
    unless ``classes`` gives it. A class folder without images is an error naming it."""
    root, classes = class_folders(root, classes)
    if not classes:
        loose = [p.name for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
        hint = f"; it holds {len(loose)} images directly: move them into one subfolder per " \
               f"class" if loose else " (expected one subfolder per class)"
        raise DataError(f"has no class subfolders{hint}", root)
    files = []
    for k, name in enumerate(classes):
        folder = root / name
        if not folder.is_dir():
            raise DataError(f"has no class folder {name!r}", root)
        found = _image_files(folder, follow_links)
        if not found:
            other = sorted(p.name for p in folder.iterdir())[:_SHOWN_FILES]
            what = f"; it holds: {', '.join(other)}" if other else "; it is empty"
            raise DataError(f"class folder {name!r} has no images "
                            f"({', '.join(IMAGE_SUFFIXES)}){what}", folder)
        files += [(p, k) for p in found]
    return files, list(classes)



def _planned_shape(path: Path, target_size, color_mode: str) -> tuple[int, ...] | None:
    """(H, W, C) the image at ``path`` will have, from its header only (None if unreadable)."""
    channels = COLOR_MODES[color_mode][1]
    size = _check_target_size(target_size)
    if size is not None:
        return (*size, channels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with _pil().open(path) as im:
                return (im.size[1], im.size[0], channels)
    except Exception:  # noqa: BLE001 — unreadable here means: found out when it is decoded
        return None


def _check_folder_size(root, files, shape) -> None:
    """The folder in memory may take what its files plausibly hold (the budget rule of
    :mod:`engine.io.bounded`): a few small, very compressible images are refused."""
    need = len(files) * int(np.prod(shape)) * 4
    stored = sum(_size(p) for p, _ in files)
    if need > max(FLOOR_BYTES, RATIO * stored):
        raise DataError(f"{len(files):,} images of {tuple(shape)} need {need / 2**30:.1f} GB in "
                        f"memory, but the files take only {stored / 2**20:.1f} MB (images this "
                        f"compressible may be decompression bombs); choose a smaller "
                        f"target_size, or read them in batches with streaming=True", root)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def memory_budget() -> int:
    """Bytes an in-memory data set may take: half of the machine's physical memory."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def read_image_folder(root, target_size=None, color_mode: str = "rgb", skip_bad: bool = False,
                      interpolation: str = "nearest", files=None, classes=None):
    """Every image of an image folder in memory: ``(x float32 (n, H, W, C) 0..255,
    y int64 (n,), class names, skipped file names)``.

    Without ``target_size`` all images must have the first image's size. Bad files are
    errors naming them, or are skipped (and listed) with ``skip_bad``. A folder that would not
    fit in memory is an error that points to streaming (``DataSource(..., streaming=True)``).
    """
    _check_color_mode(color_mode)
    if files is None:
        files, classes = list_image_folder(root, classes)
    shape = _planned_shape(files[0][0], target_size, color_mode) if files else None
    if shape is not None:        # checked before the first image is decoded
        _check_folder_size(root, files, shape)
    x, labels, skipped, n = None, [], [], 0
    for path, k in files:
        try:
            img = load_image(path, target_size, color_mode, interpolation)
        except DataError:
            if skip_bad:
                skipped.append(str(path))
                continue
            raise
        if x is None:
            need = len(files) * img.nbytes
            _check_folder_size(root, files, img.shape)
            if need > memory_budget():
                raise DataError(f"{len(files):,} images of {img.shape} need {need / 2**30:.1f} GB "
                                f"in memory, more than half of this machine's "
                                f"{2 * memory_budget() / 2**30:.1f} GB; choose a smaller "
                                f"target_size (image size), or read them in batches with "
                                f"streaming=True (DataSource.stream())", root)
            x = np.empty((len(files),) + img.shape, np.float32)
        elif img.shape != x.shape[1:]:
            raise DataError(f"has size {img.shape[:2]}, the first image has {x.shape[1:3]}; "
                            f"give a target_size to resize every image", path)
        x[n] = img
        labels.append(k)
        n += 1
    if x is None or n == 0:
        raise DataError("no readable images", root)
    return x[:n], np.array(labels, dtype=np.int64), classes, skipped
