"""The iterators behind ``ImageDataGenerator.flow`` and ``flow_from_directory``.

They are :class:`engine.utils.Sequence` objects, so ``model.fit(iterator, epochs=...)`` works;
like Keras's they can also be used with ``next(iterator)`` forever. Every batch is
augmented and normalized by the generator (``transform_batch``). With a ``seed``, batch k of
the iterator's life is always augmented the same way.
"""
from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

import numpy as np

from engine.data.images import (COLOR_MODES, IMAGE_SUFFIXES, array_to_img, img_to_array,
                                list_image_folder, load_img)
from engine.utils import Sequence

SUBSETS = ("training", "validation")


class ImageIterator(Sequence):
    """Batches of ``n`` samples: ``len()`` batches per epoch, reshuffled at each epoch end."""

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int | None):
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive whole number, got {batch_size!r}")
        self.n, self.batch_size, self.shuffle, self.seed = n, int(batch_size), shuffle, seed
        self.batch_index = 0
        self.total_batches_seen = 0
        self.lock = threading.Lock()
        self._order_rng = np.random.default_rng(seed)
        self._aug_rng = np.random.default_rng()
        self.index_array = None

    def _set_index_array(self) -> None:
        self.index_array = self._order_rng.permutation(self.n) if self.shuffle \
            else np.arange(self.n)

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size

    def _rng(self) -> np.random.Generator:
        """The augmentation RNG of the next batch (reproducible with a seed)."""
        if self.seed is None:
            return self._aug_rng
        return np.random.default_rng([self.seed, self.total_batches_seen])

    def __getitem__(self, idx: int):
        if not 0 <= idx < len(self):
            raise IndexError(f"asked for batch {idx}, but the iterator has {len(self)} batches")
        if self.index_array is None:
            self._set_index_array()
        rng = self._rng()
        self.total_batches_seen += 1
        return self._get_batch(self.index_array[self.batch_size * idx:
                                                self.batch_size * (idx + 1)], rng)

    def on_epoch_end(self) -> None:
        self._set_index_array()

    def reset(self) -> None:
        self.batch_index = 0

    def __iter__(self):
        return self

    def __next__(self):
        with self.lock:
            if self.index_array is None or self.batch_index == 0:
                self._set_index_array()
            start = (self.batch_index * self.batch_size) % max(self.n, 1)
            self.batch_index = self.batch_index + 1 if self.n > start + self.batch_size else 0
            index_array = self.index_array[start:start + self.batch_size]
            rng = self._rng()
            self.total_batches_seen += 1
        return self._get_batch(index_array, rng)

    def _get_batch(self, index_array: np.ndarray, rng: np.random.Generator):
        raise NotImplementedError

    def _save(self, batch_x: np.ndarray, index_array: np.ndarray, rng) -> None:
        if not self.save_to_dir:
            return
        for i, j in enumerate(index_array):
            name = f"{self.save_prefix}_{j}_{rng.integers(10**7)}.{self.save_format}"
            array_to_img(batch_x[i], scale=True).save(os.path.join(self.save_to_dir, name))


class NumpyArrayIterator(ImageIterator):
    """Augmented batches of in-memory images: ``x`` (N, H, W, C), or ``(x, extra_arrays)``
    whose extra inputs are batched alongside; ``y`` and ``sample_weight`` optional."""

    def __init__(self, x, y, image_data_generator, batch_size: int = 32, shuffle: bool = False,
                 sample_weight=None, seed: int | None = None, save_to_dir=None,
                 save_prefix: str = "", save_format: str = "png", subset: str | None = None,
                 ignore_class_split: bool = False, dtype=None):
        self.dtype = np.dtype(dtype or image_data_generator.dtype)
        misc = []
        if isinstance(x, (tuple, list)):
            misc = [np.asarray(a) for a in (x[1] if isinstance(x[1], list) else [x[1]])]
            x = x[0]
            for a in misc:
                if len(a) != len(x):
                    raise ValueError(f"flow: every array in x needs {len(x)} samples, one has "
                                     f"{len(a)}")
        if y is not None and len(x) != len(y):
            raise ValueError(f"flow: x has {len(x)} images but y has {len(y)} labels "
                             f"(x.shape = {np.shape(x)}, y.shape = {np.shape(y)})")
        if sample_weight is not None and len(x) != len(sample_weight):
            raise ValueError(f"flow: x has {len(x)} images but sample_weight has "
                             f"{len(sample_weight)} entries")
        if subset is not None:
            if subset not in SUBSETS:
                raise ValueError(f"flow: subset must be 'training' or 'validation', got "
                                 f"{subset!r}")
            cut = int(len(x) * image_data_generator._validation_split)
            if y is not None and not ignore_class_split and \
                    not np.array_equal(np.unique(y[:cut]), np.unique(y[cut:])):
                raise ValueError("flow: the training and validation subsets hold different "
                                 "classes after the split; if x is sorted by label, shuffle "
                                 "it first (or pass ignore_class_split=True)")
            part = slice(None, cut) if subset == "validation" else slice(cut, None)
            x, misc = x[part], [a[part] for a in misc]
            y = None if y is None else y[part]
            sample_weight = None if sample_weight is None else sample_weight[part]
        self.x = np.asarray(x, dtype=self.dtype)
        if self.x.ndim != 4:
            raise ValueError(f"flow: x must be images of rank 4 (N, H, W, C), got shape "
                             f"{self.x.shape}")
        if self.x.shape[3] not in (1, 3, 4):
            warnings.warn(f"flow: x has {self.x.shape[3]} channels on its last axis (shape "
                          f"{self.x.shape}); images are expected channels-last with 1, 3 or 4 "
                          f"channels", stacklevel=3)
        self.x_misc = misc
        self.y = None if y is None else np.asarray(y)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        self.image_data_generator = image_data_generator
        self.save_to_dir, self.save_prefix, self.save_format = save_to_dir, save_prefix, \
            save_format
        super().__init__(len(self.x), batch_size, shuffle, seed)

    def _get_batch(self, index_array: np.ndarray, rng: np.random.Generator):
        batch_x = self.image_data_generator.transform_batch(self.x[index_array], rng)
        self._save(batch_x, index_array, rng)
        misc = [a[index_array] for a in self.x_misc]
        inputs = [batch_x] + misc if misc else batch_x
        if self.y is None:
            return inputs
        out = (inputs, self.y[index_array])
        if self.sample_weight is not None:
            out += (self.sample_weight[index_array],)
        return out


class DirectoryIterator(ImageIterator):
    """Augmented batches of the images in a folder with one subfolder per class, read from
    disk one batch at a time. ``class_mode``: "categorical" (one-hot), "binary" / "sparse"
    (class index), "input" (the images themselves) or None (images only)."""

    allowed_class_modes = ("categorical", "binary", "sparse", "input", None)
    white_list_formats = tuple(s.lstrip(".") for s in IMAGE_SUFFIXES)

    def __init__(self, directory, image_data_generator, target_size=(256, 256),
                 color_mode: str = "rgb", classes=None, class_mode: str | None = "categorical",
                 batch_size: int = 32, shuffle: bool = True, seed: int | None = None,
                 save_to_dir=None, save_prefix: str = "", save_format: str = "png",
                 follow_links: bool = False, subset: str | None = None,
                 interpolation: str = "nearest", keep_aspect_ratio: bool = False, dtype=None):
        if color_mode not in COLOR_MODES:
            raise ValueError(f"flow_from_directory: color_mode must be one of "
                             f"{', '.join(COLOR_MODES)}, got {color_mode!r}")
        if class_mode not in self.allowed_class_modes:
            raise ValueError(f"flow_from_directory: class_mode must be one of "
                             f"{self.allowed_class_modes}, got {class_mode!r}")
        if subset is not None and subset not in SUBSETS:
            raise ValueError(f"flow_from_directory: subset must be 'training' or 'validation', "
                             f"got {subset!r}")
        self.directory = str(directory)
        self.image_data_generator = image_data_generator
        self.target_size = tuple(int(v) for v in target_size)
        self.color_mode, self.class_mode, self.subset = color_mode, class_mode, subset
        self.image_shape = self.target_size + (COLOR_MODES[color_mode][1],)
        self.interpolation, self.keep_aspect_ratio = interpolation, keep_aspect_ratio
        self.dtype = np.dtype(dtype or image_data_generator.dtype)
        self.save_to_dir, self.save_prefix, self.save_format = save_to_dir, save_prefix, \
            save_format
        files, class_names = list_image_folder(directory, list(classes) if classes else None,
                                               follow_links)
        self.class_indices = {name: i for i, name in enumerate(class_names)}
        self.num_classes = len(class_names)
        chosen = self._subset(files, image_data_generator._validation_split)
        root = Path(directory)
        self._filepaths = [str(p) for p, _ in chosen]
        self.filenames = [os.path.relpath(p, root) for p, _ in chosen]
        self.classes = np.array([k for _, k in chosen], dtype=np.int32)
        self.samples = len(chosen)
        print(f"Found {self.samples} images belonging to {self.num_classes} classes.")
        super().__init__(self.samples, batch_size, shuffle, seed)

    def _subset(self, files, split: float):
        """Keras's split: in each class folder, the first ``split`` of its files (sorted) are
        the validation subset and the rest the training subset."""
        if self.subset is None:
            return files
        chosen = []
        for k in range(self.num_classes):
            own = [f for f in files if f[1] == k]
            cut = int(split * len(own))
            chosen += own[:cut] if self.subset == "validation" else own[cut:]
        return chosen

    @property
    def filepaths(self) -> list[str]:
        return self._filepaths

    @property
    def labels(self) -> np.ndarray:
        return self.classes

    @property
    def sample_weight(self):
        return None

    def _get_batch(self, index_array: np.ndarray, rng: np.random.Generator):
        batch_x = np.empty((len(index_array),) + self.image_shape, dtype=self.dtype)
        for i, j in enumerate(index_array):
            img = load_img(self._filepaths[j], self.color_mode, self.target_size,
                           self.interpolation, self.keep_aspect_ratio)
            batch_x[i] = img_to_array(img, dtype=self.dtype)
        batch_x = self.image_data_generator.transform_batch(batch_x, rng)
        self._save(batch_x, index_array, rng)
        labels = self.classes[index_array]
        if self.class_mode == "input":
            return batch_x, batch_x.copy()
        if self.class_mode in ("binary", "sparse"):
            return batch_x, labels.astype(self.dtype)
        if self.class_mode == "categorical":
            batch_y = np.zeros((len(batch_x), self.num_classes), dtype=self.dtype)
            batch_y[np.arange(len(batch_x)), labels] = 1
            return batch_x, batch_y
        return batch_x

