"""Batches read on demand: an image folder larger than memory is decoded one batch at a time.

:class:`ImageFolderSequence` holds only the file list; each ``__getitem__`` decodes one batch
(memory: one batch of float32 images). :class:`ArraySequence` gives in-memory arrays the same
interface, so ``model.fit(source.stream().train)`` works for every kind of source.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.errors import DataError
from engine.data.images import load_image
from engine.utils import Sequence, to_categorical


class _Batches(Sequence):
    """Shared batching: ``n`` samples in ``batch_size`` batches, reshuffled every epoch."""

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int | None,
                 workers: int = 1, max_queue_size: int = 10):
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise DataError(f"batch_size must be a positive whole number, got {batch_size!r}")
        super().__init__(workers=workers, max_queue_size=max_queue_size)
        self.n, self.batch_size, self.shuffle = n, int(batch_size), shuffle
        self._rng = np.random.default_rng(seed)
        self.index_array = self._rng.permutation(n) if shuffle else np.arange(n)

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size

    def _batch_indices(self, index: int) -> np.ndarray:
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of a sequence with {len(self)} batches")
        return self.index_array[index * self.batch_size:(index + 1) * self.batch_size]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.index_array = self._rng.permutation(self.n)


class ArraySequence(_Batches):
    """(x, y) batches of in-memory arrays (``y`` may be ``None``: batches are then ``x``)."""

    def __init__(self, x, y=None, batch_size: int = 32, shuffle: bool = True,
                 seed: int | None = 0):
        super().__init__(len(x), batch_size, shuffle, seed)
        self.x, self.y = x, y

    def __getitem__(self, index: int):
        idx = self._batch_indices(index)
        xb = self.x[idx]
        return xb if self.y is None else (xb, self.y[idx])


class ImageFolderSequence(_Batches):
    """(x float32 (b, H, W, C), y) batches decoded from image files on demand.

    ``files``: (path, class index) pairs; ``transform``: applied to each decoded batch (scale,
    reshape); ``num_classes`` with ``one_hot`` gives one-hot labels, else int64 class ids.
    Without ``target_size`` every image must have the first image's size. With ``skip_bad``
    an unreadable file is left out of its batch and listed in ``skipped``; otherwise it is a
    :class:`DataError` naming it. ``workers`` threads decode the next batches while a step
    trains (``max_queue_size`` batches ahead; engine/data/prefetch.py); the batches keep the
    order of ``seed``. ``decoded`` counts the images decoded so far (``first_pass``: how far
    the first pass over the files has come).
    """

    def __init__(self, files: list[tuple[Path, int]], num_classes: int, batch_size: int = 32,
                 target_size=None, color_mode: str = "rgb", interpolation: str = "nearest",
                 transform: Callable[[np.ndarray], np.ndarray] | None = None,
                 one_hot: bool = False, shuffle: bool = True, seed: int | None = 0,
                 skip_bad: bool = False, workers: int = 2, max_queue_size: int = 4):
        if not files:
            raise DataError("no image files to stream")
        super().__init__(len(files), batch_size, shuffle, seed, workers, max_queue_size)
        self.decoded = 0
        self._count_lock = threading.Lock()
        self.paths = [Path(p) for p, _ in files]
        self.classes = np.array([k for _, k in files], dtype=np.int64)
        self.num_classes, self.one_hot = int(num_classes), one_hot
        self.target_size, self.color_mode = target_size, color_mode
        self.interpolation, self.transform, self.skip_bad = interpolation, transform, skip_bad
        self.skipped: list[str] = []
        self.image_shape = self._first_shape()

    def _first_shape(self) -> tuple[int, ...]:
        for path in self.paths:
            try:
                return load_image(path, self.target_size, self.color_mode,
                                  self.interpolation).shape
            except DataError:
                if not self.skip_bad:
                    raise
        raise DataError("none of the images can be read", self.paths[0].parent.parent)

    def _load(self, path: Path) -> np.ndarray | None:
        try:
            img = load_image(path, self.target_size, self.color_mode, self.interpolation)
        except DataError:
            if self.skip_bad:
                if str(path) not in self.skipped:
                    self.skipped.append(str(path))
                return None
            raise
        if img.shape != self.image_shape:
            raise DataError(f"has size {img.shape[:2]}, the first image has "
                            f"{self.image_shape[:2]}; give a target_size to resize every "
                            f"image", path)
        return img

    def __getitem__(self, index: int):
        idx = self._batch_indices(index)
        x = np.empty((len(idx),) + self.image_shape, np.float32)
        keep = []
        for i, j in enumerate(idx):
            img = self._load(self.paths[j])
            if img is not None:
                x[len(keep)] = img
                keep.append(j)
        x = x[:len(keep)]
        with self._count_lock:
            self.decoded += len(idx)
        if self.transform is not None:
            x = self.transform(x)
        y = self.classes[np.array(keep, dtype=np.int64)]
        if self.one_hot:
            y = to_categorical(y, self.num_classes)
        return x, y

    @property
    def first_pass(self) -> tuple[int, int]:
        """(images read, images in all) of the first pass over the files."""
        return min(self.decoded, self.n), self.n


def sample_batches(seq: Sequence, max_samples: int, max_bytes: int = 64 << 20
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """(x, y) of a Sequence's first batches, in order, up to ``max_samples`` samples and
    ``max_bytes`` of x: an in-memory sample of streamed data (evaluation, previews, adapting
    a Normalization layer)."""
    xs, ys, n, size = [], [], 0, 0
    for i in range(len(seq)):
        batch = seq[i]
        x, y = (batch if isinstance(batch, tuple) else (batch, None))[:2]
        take = min(len(x), max_samples - n)
        if xs and size + x[:take].nbytes > max_bytes:
            break
        xs.append(x[:take])
        ys.append(None if y is None else y[:take])
        n += take
        size += x[:take].nbytes
        if n >= max_samples:
            break
    if not xs:
        raise DataError("the data source has no samples")
    y = None if ys[0] is None else np.concatenate(ys)
    return np.concatenate(xs), y


@dataclass
class StreamedData:
    """A data source as batch sequences: ``train`` (and ``validation`` / ``test`` when the
    source has them) yield (x, y) batches; ``count`` is the number of training samples."""
    train: Sequence
    validation: Sequence | None
    test: Sequence | None
    class_names: list[str] | None
    count: int
