"""One new input — a drawing, a picture file, a sentence — turned into a sample a trained model
takes, prepared the way the project's data source prepares its training samples (size, colour,
scale, layout; the vocabulary for text). Used by the app's "Try it" panel; Qt-free.

``input_form(input_shape, dtype, spec)`` decides what the model can be given (an image of
H × W × C, or text of ``maxlen`` token ids) and how to scale it; ``image_sample`` and
``text_sample`` build the ``(1, *input_shape)`` array. ``source_context(spec)`` reads the class
names and the vocabulary from the data source (possibly slow: call it off the GUI thread).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.data.errors import DataError

MAX_PIXELS = 40_000_000          # a dropped picture larger than this is refused before decoding
DIGIT_BOX = 20                   # MNIST: each digit fits a 20×20 box centred in 28×28


@dataclass(frozen=True)
class InputForm:
    """What a model's (single) input accepts. ``kind`` is "image", "text" or "unsupported"."""

    kind: str
    input_shape: tuple[int, ...] = ()
    height: int = 0
    width: int = 0
    channels: int = 0
    scale: float | None = None       # multiply 0..255 pixels by this (None: keep 0..255)
    maxlen: int = 0
    reason: str = ""                 # why it is unsupported
    digits: bool = False             # MNIST-like 28×28 grayscale: centre drawings like MNIST

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.height, self.width, self.channels


@dataclass
class SourceContext:
    """What the data source tells about its samples: class names and the text vocabulary."""

    class_names: list[str] = field(default_factory=list)
    vocabulary: list[str] | None = None


def _image_of_source(spec: dict) -> tuple[tuple[int, int, int] | None, float | None]:
    """(H, W, C) of the source's raw images when it says, and the scale applied to them."""
    kind, scale = spec.get("kind"), spec.get("scale")
    if kind == "bundled" and spec.get("name") == "mnist":
        return (28, 28, 1), 1 / 255 if scale is None else scale
    if kind == "keras_dataset":
        from engine.datasets.catalog import DATASETS
        info = DATASETS.get(spec.get("name"))
        if info is not None:
            h, w, *c = info.sample_shape
            return (h, w, c[0] if c else 1), 1 / 255 if scale is None else scale
    if kind == "image_folder" and spec.get("target_size"):
        from engine.data.images import COLOR_MODES
        h, w = spec["target_size"]
        return (int(h), int(w), COLOR_MODES[spec.get("color_mode", "rgb")][1]), scale
    return None, scale


def input_form(input_shape, dtype: str | None, spec: dict | None) -> InputForm:
    """How to feed a model whose input is ``input_shape`` (per sample) of ``dtype``, trained on
    the data source ``spec`` (None: none chosen yet; pictures are then scaled to [0, 1])."""
    shape = tuple(input_shape)
    spec = spec or {}
    if any(d is None for d in shape):
        return InputForm("unsupported", shape, reason=f"the model's input {shape} has a free "
                                                        f"dimension; Try it needs a fixed shape")
    size = int(np.prod(shape)) if shape else 1
    if dtype and "int" in str(dtype):
        if len(shape) == 1:
            return InputForm("text", shape, maxlen=shape[0])
        return InputForm("unsupported", shape, reason=f"the model takes integer input of shape "
                                                        f"{shape}; Try it feeds text as one row "
                                                        f"of token ids")
    image, scale = _image_of_source(spec)
    if image is None:
        if not spec:
            scale = 1 / 255
        if len(shape) == 3 and shape[2] in (1, 3):
            image = shape
        elif len(shape) == 2:
            image = (shape[0], shape[1], 1)
        elif len(shape) == 1 and math.isqrt(size) ** 2 == size and size >= 16:
            image = (math.isqrt(size), math.isqrt(size), 1)
    if image is None or int(np.prod(image)) != size:
        return InputForm("unsupported", shape, reason=f"the model takes {size:,} values per "
                                                        f"sample {shape}, which is not a picture "
                                                        f"Try it can draw or read")
    h, w, c = image
    return InputForm("image", shape, h, w, c, None if scale is None else float(scale),
                     digits=(h, w, c) == (28, 28, 1))


# ---------------------------------------------------------------------------- pictures
def read_image_file(path) -> np.ndarray:
    """A picture file as uint8 (H, W, 3); refuses what is not an image or is too large to
    decode safely (checked from the header, before decoding)."""
    from PIL import Image, UnidentifiedImageError
    path = Path(path)
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_PIXELS:
                raise DataError(f"is {im.width}×{im.height} pixels; pictures up to "
                                f"{MAX_PIXELS / 1e6:.0f} megapixels are read", path)
            im.draft("RGB", (1024, 1024))          # JPEG: decode at a reduced size
            rgb = im.convert("RGB")
    except FileNotFoundError:
        raise DataError("no such file", path) from None
    except UnidentifiedImageError:
        raise DataError("is not a picture LayerLoom can read", path) from None
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"cannot be read as a picture ({e})", path) from None
    return np.asarray(rgb, dtype=np.uint8)


def _resize(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """float (H, W[, C]) in 0..255 resized with Pillow (area-like for shrinking)."""
    from PIL import Image
    if pixels.shape[:2] == (height, width):
        return pixels.astype(np.float32)
    u8 = np.clip(pixels, 0, 255).astype(np.uint8)
    img = Image.fromarray(u8).resize((width, height), Image.Resampling.BOX
                                     if pixels.shape[0] > height else Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32)


def centre_like_mnist(gray: np.ndarray, size: int = 28, box: int = DIGIT_BOX) -> np.ndarray:
    """A drawing (float (H, W), 0..255, light strokes on dark) prepared as MNIST's digits
    were: cropped to its ink, scaled to fit a ``box``×``box`` square (aspect kept) and placed in
    a ``size``×``size`` image with its centre of mass in the middle."""
    ink = np.argwhere(gray > 12.0)
    out = np.zeros((size, size), np.float32)
    if not len(ink):
        return out
    (top, left), (bottom, right) = ink.min(axis=0), ink.max(axis=0) + 1
    crop = gray[top:bottom, left:right]
    f = box / max(crop.shape)
    h, w = max(1, round(crop.shape[0] * f)), max(1, round(crop.shape[1] * f))
    small = _resize(crop, h, w)
    total = float(small.sum())
    if total <= 0:
        return out
    cy = float((small.sum(axis=1) * np.arange(h)).sum()) / total
    cx = float((small.sum(axis=0) * np.arange(w)).sum()) / total
    oy = int(np.clip(round((size - 1) / 2 - cy), 0, size - h))
    ox = int(np.clip(round((size - 1) / 2 - cx), 0, size - w))
    out[oy:oy + h, ox:ox + w] = small
    return out


def image_sample(pixels: np.ndarray, form: InputForm, drawing: bool = False,
                 invert: bool | None = None) -> np.ndarray:
    """``(1, *input_shape)`` float32 from a picture: uint8/float (H, W) or (H, W, 3|4), values
    0..255. ``drawing``: light strokes on a dark pad, centred like MNIST for digit models.
    ``invert``: dark-on-light pictures made light-on-dark (None: decided for grayscale models
    from the picture's border, as photos of ink on paper are light around the edges)."""
    if form.kind != "image":
        raise ValueError(f"the model does not take pictures: {form.reason or form.kind}")
    x = np.asarray(pixels, dtype=np.float32)
    if x.ndim == 3:
        x = x[..., :3]
        if form.channels == 1:
            x = x @ np.array([0.299, 0.587, 0.114], np.float32)   # luminance, as Pillow's "L"
    elif form.channels == 3:
        x = np.repeat(x[..., None], 3, axis=2)
    if x.ndim == 2 and invert is None and not drawing:
        border = np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])
        invert = form.channels == 1 and float(border.mean()) > 127.5
    if invert:
        x = 255.0 - x
    if drawing and form.digits and x.ndim == 2:
        x = centre_like_mnist(x)
    else:
        x = _resize(x, form.height, form.width)
    if form.scale is not None:
        x = x * np.float32(form.scale)
    return x.reshape((1,) + form.input_shape).astype(np.float32, copy=False)


# ---------------------------------------------------------------------------- text
def text_sample(text: str, vocabulary: list[str], maxlen: int) -> np.ndarray:
    """``(1, maxlen)`` int32 token ids of ``text`` with the data source's vocabulary (0 pads,
    1 is an unknown word), as the source encoded its training texts."""
    from engine.preprocessing.text import TextVectorization
    vec = TextVectorization(output_sequence_length=maxlen, vocabulary=vocabulary)
    return np.asarray(vec([text]), dtype=np.int32)


def known_words(text: str, vocabulary: list[str]) -> tuple[int, int]:
    """(words of ``text`` in the vocabulary, words in all)."""
    from engine.preprocessing.text import TextVectorization
    vec = TextVectorization(vocabulary=vocabulary)
    tokens = vec.tokens(text)
    index = set(vocabulary)
    return sum(t in index for t in tokens), len(tokens)


# ---------------------------------------------------------------------------- the source
def source_context(spec: dict | None) -> SourceContext:
    """Class names and vocabulary of a data source: from what is known about the named data
    sets and class folders without reading them, else from reading the source (slow)."""
    if not spec:
        return SourceContext()
    kind, name = spec.get("kind"), spec.get("name")
    if kind == "bundled" and name == "mnist":
        return SourceContext([str(i) for i in range(10)])
    if kind == "keras_dataset":
        from engine.datasets.catalog import DATASETS
        info = DATASETS.get(name)
        return SourceContext(list(info.class_names) if info else [])
    if kind == "image_folder":
        from engine.data.images import list_image_folder
        _files, classes = list_image_folder(Path(spec["path"]).expanduser())
        return SourceContext(list(classes))
    from engine.data.source import DataSource
    loaded = DataSource.from_dict(spec).load()
    return SourceContext(list(loaded.class_names or []), loaded.info.get("vocabulary"))
