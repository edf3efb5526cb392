"""The batches that fit, evaluate and predict loop over: mini-batches of in-memory arrays
(:class:`ArrayBatches`), or batches from a Keras Sequence / PyDataset or a generator, checked
like arrays (:class:`BatchStream`)."""
from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterator

import numpy as np

from engine.models import data_adapter as da


def _take(a, key):
    return None if a is None else a[key]


class ArrayBatches:
    """Mini-batches of in-memory arrays; a fresh permutation per epoch when shuffling."""

    def __init__(self, xs, ys, sw, batch_size, shuffle, rng, steps_per_epoch):
        self.xs, self.ys, self.sw = xs, ys, sw
        self.n = len(xs[0])
        if self.n == 0:
            raise ValueError("fit/evaluate got 0 samples")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = rng
        full = math.ceil(self.n / batch_size)
        self.steps = min(full, steps_per_epoch) if steps_per_epoch else full

    def epoch(self):
        bs = self.batch_size
        order = self.rng.permutation(self.n) if self.shuffle else None
        for b in range(self.steps):
            if order is None:
                sl = slice(b * bs, min((b + 1) * bs, self.n))
                yield ([a[sl] for a in self.xs], [_take(a, sl) for a in self.ys],
                       None if self.sw is None else self.sw[sl])
            else:
                idx = order[b * bs:(b + 1) * bs]
                yield ([a[idx] for a in self.xs], [_take(a, idx) for a in self.ys],
                       None if self.sw is None else self.sw[idx])


class BatchStream:
    """Batches from a Sequence or a generator, checked like arrays."""

    def __init__(self, model, source, steps, shuffle, rng):
        self.model, self.source, self.shuffle, self.rng = model, source, shuffle, rng
        self.is_seq = hasattr(source, "__len__") and hasattr(source, "__getitem__")
        if not self.is_seq and not isinstance(source, Iterator):
            self.source = iter(source)     # an endless PyDataset (no __len__) or an iterable
        if steps is None and not self.is_seq:
            raise ValueError("fit: with a generator, give steps_per_epoch (batches per epoch)")
        # a Sequence shorter than steps_per_epoch is cycled, as Keras 2's fit_generator did
        self.steps = steps if steps else (len(source) if self.is_seq else None)
        if self.steps == 0:
            raise ValueError("the generator/Sequence has no batches (len() is 0)")
        if model._plan is None:  # an unbuilt Sequential learns its input shape from batch 1
            if self.is_seq:
                first = source[0]
            else:
                first = next(self.source)
                self.source = itertools.chain([first], self.source)
            model._build_from_data(da.unpack_batch(first)[0])

    def _batches(self):
        if self.is_seq:
            shuffled = self.shuffle and self.rng is not None
            yield from da.sequence_batches(
                self.source, self.steps,
                lambda n: self.rng.permutation(n) if shuffled else np.arange(n))
        else:
            for i in range(self.steps):
                try:
                    yield next(self.source)
                except StopIteration:
                    warnings.warn(f"the generator ran out of data after {i} batches "
                                  f"(steps_per_epoch={self.steps})", RuntimeWarning, stacklevel=4)
                    return

    def epoch(self, need_y: bool = True):
        m = self.model
        for batch in self._batches():
            xb, yb, swb = da.unpack_batch(batch)
            if need_y:
                if yb is None:
                    raise ValueError("the generator yielded batches without targets; yield "
                                     "(x, y) tuples")
                xs, ys, sw = m._prepare_xy(xb, yb, swb)
                yield xs, ys, sw
            else:
                if m._plan is None:
                    m._build_from_data(xb)
                yield da.prepare_inputs(xb, m._plan.input_layers), None, None

