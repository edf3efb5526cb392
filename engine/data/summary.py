"""What a data source holds, for display: counts, shapes, class balance, value range, samples."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Summary:
    """A data source at a glance (the data panel and ``layerloom-cli info`` show it).

    ``count``: training samples; ``sample_shape``: one sample's shape (``()`` for text);
    ``dtype``: ``"float32"`` or ``"text"``; ``value_range``: (min, max) of the training inputs,
    ``None`` for text; ``class_counts``: samples per class (``None`` for regression targets or
    no labels); ``samples`` / ``sample_labels``: a few evenly spaced training samples;
    ``notes``: anything the numbers alone would hide (e.g. a range measured on a sample).
    """
    count: int
    test_count: int
    sample_shape: tuple
    dtype: str
    value_range: tuple[float, float] | None
    class_names: list[str] | None
    class_counts: list[int] | None
    samples: list = field(default_factory=list)
    sample_labels: list = field(default_factory=list)
    validation_count: int = 0
    label_kind: str | None = None      # "classes", "regression" or None (no labels)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """A few lines of plain text (for the command line)."""
        shape = " x ".join(str(d) for d in self.sample_shape) or "scalar"
        lines = [f"{self.count:,} training samples of shape ({shape}), {self.dtype}"]
        if self.validation_count:
            lines.append(f"{self.validation_count:,} validation samples")
        if self.test_count:
            lines.append(f"{self.test_count:,} test samples")
        if self.value_range is not None:
            lines.append(f"values {self.value_range[0]:.4g} .. {self.value_range[1]:.4g}")
        if self.class_counts is not None:
            names = self.class_names or [str(i) for i in range(len(self.class_counts))]
            lines.append("classes: " + ", ".join(f"{n} {c:,}" for n, c in
                                                 zip(names, self.class_counts)))
        elif self.label_kind == "regression":
            lines.append("regression targets")
        return "\n".join(lines + self.notes)


def class_ids(y) -> np.ndarray | None:
    """Integer class ids of labels (sparse or one-hot), or ``None`` for regression targets."""
    if y is None:
        return None
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    flat = y.reshape(len(y), -1)
    if flat.shape[1] != 1 or flat.dtype.kind not in "iuf":
        return None
    labels = flat[:, 0]
    if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
        return None
    return labels.astype(np.int64) if (labels.size == 0 or labels.min() >= 0) else None


def class_balance(y, class_names) -> tuple[str | None, list[int] | None]:
    """(label kind, samples per class)."""
    if y is None:
        return None, None
    ids = class_ids(y)
    if ids is None:
        return "regression", None
    k = max(len(class_names or ()), int(ids.max()) + 1 if ids.size else 0)
    return "classes", np.bincount(ids, minlength=k).tolist()


def pick(count: int, n_samples: int) -> np.ndarray:
    """Indices of ``n_samples`` evenly spaced samples out of ``count``."""
    return np.unique(np.linspace(0, count - 1, min(n_samples, count)).astype(int)) \
        if count else np.zeros(0, int)


def summarize(x, y, class_names=None, test_count: int = 0, validation_count: int = 0,
              n_samples: int = 16) -> Summary:
    """The summary of in-memory training data: ``x`` an array (n, ...) or a sequence of texts."""
    text = not isinstance(x, np.ndarray) or x.dtype.kind in "OUS"
    kind, counts = class_balance(y, class_names)
    idx = pick(len(x), n_samples)
    if text:
        shape, dtype, value_range = (), "text", None
        samples = [str(x[i]) for i in idx]
    else:
        shape, dtype = tuple(x.shape[1:]), str(x.dtype)
        value_range = (float(x.min()), float(x.max())) if x.size else None
        samples = [x[i] for i in idx]
    return Summary(len(x), test_count, shape, dtype, value_range, class_names, counts, samples,
                   [None if y is None else y[i] for i in idx], validation_count, kind)
