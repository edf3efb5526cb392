"""Background prefetch: worker threads fetch the next batches while the training step runs.

``prefetched(fetch, keys, workers, depth)`` yields ``fetch(key)`` for every key, in the keys'
order, with up to ``depth`` fetches running ahead on ``workers`` threads. The order of the
results never depends on which thread finished first, so training stays deterministic for a
fixed seed. Decoding images (Pillow) and numpy's conversions release the GIL, so the workers
run beside numba's kernels; each worker runs numba kernels on one thread
(``engine.threading_policy.background_thread``), so prefetching never adds a second pool of
compute threads to the process.

A Sequence asks for this the way a Keras 3 ``PyDataset`` does: ``workers`` > 1 (threads; this
engine never forks processes, ``use_multiprocessing`` is accepted and means threads too) and
``max_queue_size`` (how many batches may be ready or in flight).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from engine import threading_policy


def prefetch_settings(source: Any) -> tuple[int, int]:
    """(workers, depth) a Sequence asks for; (0, 0) means: fetch on the calling thread."""
    workers = int(getattr(source, "workers", 1) or 1)
    if workers <= 1:
        return 0, 0
    depth = int(getattr(source, "max_queue_size", 10) or 10)
    return workers, max(depth, workers)


def prefetched(fetch: Callable[[Any], Any], keys: Iterable, workers: int,
               depth: int) -> Iterator[Any]:
    """``fetch(k)`` for each of ``keys`` in order, fetched ahead on ``workers`` threads. An
    exception in a fetch is raised here, at its place in the order. Closing the iterator (a
    stopped run) cancels the fetches not yet started and waits for the running ones."""
    if workers <= 0:
        for k in keys:
            yield fetch(k)
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="layerloom-prefetch",
                              initializer=threading_policy.background_thread)
    pending: deque = deque()
    it = iter(keys)
    try:
        for k in it:
            pending.append(pool.submit(fetch, k))
            if len(pending) >= depth:
                break
        while pending:
            result = pending.popleft().result()
            for k in it:                       # keep `depth` fetches going
                pending.append(pool.submit(fetch, k))
                break
            yield result
    finally:
        for f in pending:
            f.cancel()
        pool.shutdown(wait=True)
