"""Turns what users pass to fit/evaluate/predict into checked arrays and batches.

Accepted: an array, a list of arrays (one per input/output, in order) or a dict by input/output
name; or, for x alone, a ``Sequence`` / generator yielding ``(x, y)`` or ``(x, y, sample_weight)``.
Every mismatch is reported with the input's name, the shape expected and the shape found.
"""
from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.kernels.optimizers import all_finite
from engine.layers.core import InputLayer, as_input_array
from engine.utils import Sequence


def is_batch_source(x: Any) -> bool:
    """True for a Sequence, generator or iterator that yields batches."""
    return (isinstance(x, Sequence) or inspect.isgenerator(x)
            or (isinstance(x, Iterator) and not isinstance(x, np.ndarray))
            or (hasattr(x, "__getitem__") and hasattr(x, "__len__") and hasattr(x, "on_epoch_end")))


def _listify(data: Any, names: list[str], what: str) -> list:
    if isinstance(data, dict):
        unknown = set(data) - set(names)
        if unknown:
            raise ValueError(f"{what}: unknown name(s) {sorted(unknown)}; the model's {what} "
                             f"are {names}")
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"{what}: no data for {missing}; the model's {what} are {names}")
        return [data[n] for n in names]
    if isinstance(data, (list, tuple)) and len(names) > 1:
        if len(data) != len(names):
            raise ValueError(f"the model has {len(names)} {what} ({', '.join(names)}), "
                             f"got a list of {len(data)} arrays")
        return list(data)
    if isinstance(data, (list, tuple)) and len(names) == 1 and len(data) == 1 \
            and isinstance(data[0], np.ndarray):
        return [data[0]]
    return [data]


def _check_ragged(arr: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(arr)
    except ValueError:
        raise ValueError(f"{name}: the samples have different lengths (a ragged list); pad them "
                         f"to one length first, e.g. with "
                         f"engine.preprocessing.sequence.pad_sequences") from None


def prepare_inputs(x: Any, input_layers: list[InputLayer]) -> list[np.ndarray]:
    """Check ``x`` against the model's inputs and convert each array to its input's dtype."""
    names = [layer.name for layer in input_layers]
    xs = _listify(x, names, "inputs")
    out = []
    for arr, layer in zip(xs, input_layers):
        if arr is None:
            raise ValueError(f"input '{layer.name}': no data given (got None)")
        a = _check_ragged(arr, f"input '{layer.name}'")
        if a.dtype == object:
            raise ValueError(f"input '{layer.name}': got an array of Python objects; "
                             f"expected numbers of shape (N, {', '.join(map(str, layer.shape))})")
        check_input_shape(a.shape, layer)
        out.append(as_input_array(layer, a))
    n = {len(a) for a in out}
    if len(n) > 1:
        counts = ", ".join(f"'{lyr.name}': {len(a)}" for a, lyr in zip(out, input_layers))
        raise ValueError(f"the inputs have different numbers of samples ({counts})")
    return out


def check_input_shape(shape: tuple, layer: InputLayer) -> None:
    want = layer.shape
    got = tuple(shape[1:])
    ok = len(got) == len(want) and all(w is None or w == g for w, g in zip(want, got))
    if ok:
        return
    msg = (f"input '{layer.name}' expects samples of shape {want} (arrays of shape "
           f"(N, {', '.join('None' if w is None else str(w) for w in want)})), got an array of "
           f"shape {tuple(shape)}")
    if len(got) + 1 == len(want) and want[-1] == 1 and tuple(want[:-1]) == got:
        msg += ("; the channel axis is missing: add it with x.reshape(-1, "
                f"{', '.join(map(str, want))}) or np.expand_dims(x, -1)")
    elif len(shape) == 0:
        msg = f"input '{layer.name}' expects an array of samples, got a scalar"
    elif int(np.prod(got, dtype=np.int64)) == int(np.prod([w or 0 for w in want], dtype=np.int64)):
        msg += f"; reshape it with x.reshape(-1, {', '.join(map(str, want))})"
    raise ValueError(msg)


def prepare_targets(y: Any, output_names: list[str], n: int,
                    needed: list[bool] | None = None) -> list[np.ndarray | None]:
    """One checked target array per output; ``needed[k]`` False (an output compiled without a
    loss, ``loss=[None, ...]``) lets that target be missing (None). As Keras, ``y`` may then
    also list only the needed outputs' targets, or name them in a dict."""
    needed = needed or [True] * len(output_names)
    if isinstance(y, dict):
        y = {**{nm: None for nm, need in zip(output_names, needed) if not need}, **y}
    elif isinstance(y, (list, tuple)) and len(output_names) > 1 and \
            len(y) == sum(needed) < len(output_names):
        it = iter(y)
        y = [next(it) if need else None for need in needed]
    ys = _listify(y, output_names, "outputs")
    out = []
    for arr, name, need in zip(ys, output_names, needed):
        if arr is None and not need:
            out.append(None)
            continue
        if arr is None:
            raise ValueError(f"output '{name}': no target data given (y is None)")
        a = _check_ragged(arr, f"targets for output '{name}'")
        if a.ndim == 0:
            raise ValueError(f"targets for output '{name}': expected an array of N samples, "
                             f"got a scalar")
        if a.dtype.kind not in "fiub":
            raise ValueError(f"targets for output '{name}': expected numbers, got dtype {a.dtype}")
        if len(a) != n:
            raise ValueError(f"x has {n} samples but y (output '{name}') has {len(a)}; they must "
                             f"have one target per sample")
        out.append(a)
    return out


def prepare_sample_weight(sw: Any, n: int) -> np.ndarray | None:
    if sw is None:
        return None
    sw = np.asarray(sw, dtype=np.float64).reshape(-1)
    if len(sw) != n:
        raise ValueError(f"sample_weight has {len(sw)} entries, x has {n} samples")
    return sw


def class_weight_to_sample_weight(class_weight: dict, y: np.ndarray,
                                  n_classes: int | None = None) -> np.ndarray:
    """Per-sample weights from ``{class index: weight}``; ``n_classes`` (the model's output
    width, 2 for one sigmoid unit) bounds the indexes."""
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be a dict {{class index: weight}}, got "
                         f"{type(class_weight).__name__}")
    for cls, w in class_weight.items():
        if not isinstance(cls, (int, np.integer)) or isinstance(cls, bool) or cls < 0 or \
                (n_classes is not None and cls >= n_classes):
            known = f"0 to {n_classes - 1}" if n_classes else "whole numbers >= 0"
            raise ValueError(f"class_weight: class {cls!r} does not exist; the model's classes "
                             f"are {known}")
        if not isinstance(w, (int, float, np.integer, np.floating)) or isinstance(w, bool) or \
                not np.isfinite(w) or w < 0:
            raise ValueError(f"class_weight: the weight of class {cls} must be a finite number "
                             f">= 0, got {w!r}")
    labels = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y), -1)[:, 0]
    labels = labels.astype(np.int64)
    sw = np.ones(len(y))
    for cls, w in class_weight.items():
        sw[labels == int(cls)] = float(w)
    return sw


def check_finite(arrays: list, names: list[str]) -> None:
    """Refuse NaN or inf in input, target or weight arrays, naming the array, the sample and
    the feature: one NaN cell is enough to turn every weight it reaches into NaN. Cheap when
    the arrays are clean: one pass over each (kernels.optimizers.all_finite), no copies."""
    for a, name in zip(arrays, names):
        if a is None or not isinstance(a, np.ndarray) or a.dtype.kind not in "fc" or not a.size:
            continue
        if all_finite(a):
            continue
        rows = a.reshape(len(a), -1) if a.ndim > 1 else a.reshape(-1, 1)
        step = max(1, (1 << 22) // max(1, rows.shape[1]))
        for start in range(0, len(rows), step):
            bad = ~np.isfinite(rows[start:start + step])
            if bad.any():
                i, j = (int(v) for v in np.argwhere(bad)[0])
                value = rows[start + i, j]
                what = "NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")
                at = ""
                if a.ndim > 1:
                    pos = np.unravel_index(j, a.shape[1:])
                    at = f", feature {pos[0] if len(pos) == 1 else tuple(int(p) for p in pos)}"
                raise ValueError(f"{name}: sample {start + i}{at} is {what}; fill or drop it "
                                 f"before training (one NaN turns every weight it reaches "
                                 f"into NaN)")


def split_validation(arrays: list, fraction: float) -> tuple[list, list]:
    """Keras semantics: the last ``fraction`` of the samples, before any shuffling."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must be between 0 and 1, got {fraction}")
    n = len(arrays[0])
    cut = int(n * (1.0 - fraction))
    if cut == 0 or cut == n:
        raise ValueError(f"validation_split={fraction} of {n} samples leaves an empty "
                         f"{'training' if cut == 0 else 'validation'} set")
    return ([None if a is None else a[:cut] for a in arrays],
            [None if a is None else a[cut:] for a in arrays])


def unpack_batch(batch: Any) -> tuple[Any, Any, Any]:
    if isinstance(batch, tuple):
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch
        if len(batch) == 1:
            return batch[0], None, None
    if isinstance(batch, list) and len(batch) in (2, 3):
        return (*batch, None) if len(batch) == 2 else tuple(batch)
    return batch, None, None


def sequence_batches(seq, steps: int, order_for_pass) -> Iterator:
    """``steps`` batches of a PyDataset/Sequence ``seq``, pass after pass (a dataset shorter
    than ``steps`` is cycled): ``order_for_pass(n)`` gives each pass's batch order; the
    dataset's ``on_epoch_begin`` / ``on_epoch_end`` run around every pass. With
    ``seq.workers > 1`` up to ``seq.max_queue_size`` batches of the pass are read ahead in that
    many threads, in order (engine/data/prefetch.py: a slow ``__getitem__`` — files,
    augmentation — overlaps training). Reads never cross a pass, so ``on_epoch_end`` may
    reshuffle safely."""
    from engine.data.prefetch import prefetch_settings, prefetched   # engine.data: ~0.2 s
    n = len(seq)
    workers, depth = prefetch_settings(seq)
    if workers and getattr(seq, "use_multiprocessing", False):
        _warn_threads_once(type(seq).__name__)
    k = 0
    while k < steps:
        order = order_for_pass(n)
        count = min(n, steps - k)
        if hasattr(seq, "on_epoch_begin"):
            seq.on_epoch_begin()
        yield from prefetched(seq.__getitem__, (int(i) for i in order[:count]), workers, depth)
        k += count
        if hasattr(seq, "on_epoch_end"):
            seq.on_epoch_end()


_warned_threads: set[str] = set()


def _warn_threads_once(name: str) -> None:
    if name not in _warned_threads:
        _warned_threads.add(name)
        warnings.warn(f"{name}: use_multiprocessing=True runs the workers as threads here (the "
                      f"engine never forks or pickles a dataset)", RuntimeWarning, stacklevel=4)
