"""Dynamic work sharing for numba's parallel kernels (the policy: engine/threading_policy.py).

A parallel kernel runs one loop per worker thread; each worker takes chunk numbers from a shared
counter until none are left, so a thread the OS slows down takes fewer chunks instead of holding
up the others (numba's ``prange`` splits its range statically)::

    @njit(parallel=True, cache=True, nogil=True)
    def kernel(x, out, nchunks, nworkers):
        counter = np.zeros(1, np.int64)
        for _ in prange(nworkers):
            while True:
                c = fetch_add(counter, 0)
                if c >= nchunks:
                    break
                lo, hi = chunk_range(c, nchunks, x.shape[0])
                ...                          # the rows lo..hi-1
"""
from __future__ import annotations

from numba import get_num_threads, njit, types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def fetch_add(typingctx, counter, index):
    """Atomically: old = counter[index]; counter[index] += 1; return old. counter: 1-D int64.

    The threads of a parallel kernel take work items from a shared counter this way (dynamic
    scheduling; numba's OpenMP prange splits its range statically).
    """
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64
            and counter.ndim == 1 and isinstance(index, types.Integer)):
        return None
    sig = types.int64(counter, index)

    def codegen(context, builder, sig, args):
        aryty, idxty = sig.args
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = context.cast(builder, args[1], idxty, types.intp)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [idx])
        one = context.get_constant(types.int64, 1)
        return builder.atomic_rmw("add", ptr, one, "seq_cst")
    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def take_samples(counter, nchunks, bs, n):
    """The next chunk of ``bs`` of n items (samples, or columns) from counter[0]: (chunk, first
    item, count), the count 0 once all ``nchunks`` are taken (the loop of the chunked kernels)."""
    blk = fetch_add(counter, 0)
    if blk >= nchunks:
        return blk, 0, 0
    b0 = blk * bs
    return blk, b0, min(n, b0 + bs) - b0


@njit(cache=True, nogil=True, inline="always")
def chunk_range(chunk, nchunks, n):
    """Items [lo, hi) of chunk ``chunk`` when n items are cut into nchunks near-equal chunks."""
    return chunk * n // nchunks, (chunk + 1) * n // nchunks


def batch_chunks(n: int) -> tuple[int, int]:
    """(chunks, workers) for a pass over n items on numba's current thread count (the policy's,
    read in Python: a cached kernel cannot call get_num_threads itself): up to 4 chunks per
    thread, so a thread slowed by another program leaves its spare chunks to the others."""
    workers = workers_for(n)
    return max(1, min(n, 4 * workers)), workers


def workers_for(n: int) -> int:
    """Threads for n work items: numba's current thread count (the policy's, read in Python),
    at most n, at least 1."""
    return max(1, min(get_num_threads(), n))


def _int64_slot(context, builder, aryty, ary_value, index_value, idxty):
    ary = context.make_array(aryty)(context, builder, ary_value)
    idx = context.cast(builder, index_value, idxty, types.intp)
    return cgutils.get_item_pointer(context, builder, aryty, ary, [idx])


def _is_int64_vector(a) -> bool:
    return isinstance(a, types.Array) and a.dtype == types.int64 and a.ndim == 1


@intrinsic
def atomic_load(typingctx, flags, index):
    """flags[index], read atomically (seq_cst): a polling loop sees another thread's store and
    the compiler cannot hoist the read out of the loop. flags: 1-D int64."""
    if not (_is_int64_vector(flags) and isinstance(index, types.Integer)):
        return None
    sig = types.int64(flags, index)

    def codegen(context, builder, sig, args):
        ptr = _int64_slot(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        return builder.load_atomic(ptr, "seq_cst", 8)
    return sig, codegen


@intrinsic
def atomic_store(typingctx, flags, index, value):
    """flags[index] = value, atomically (seq_cst). flags: 1-D int64."""
    if not (_is_int64_vector(flags) and isinstance(index, types.Integer)
            and isinstance(value, types.Integer)):
        return None
    sig = types.void(flags, index, value)

    def codegen(context, builder, sig, args):
        ptr = _int64_slot(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        val = context.cast(builder, args[2], sig.args[2], types.int64)
        builder.store_atomic(val, ptr, "seq_cst", 8)
        return context.get_dummy_value()
    return sig, codegen


@intrinsic
def compare_exchange(typingctx, flags, index, expected, new):
    """Atomically: if flags[index] == expected, set it to new and return True; else False."""
    if not (_is_int64_vector(flags) and isinstance(index, types.Integer)
            and isinstance(expected, types.Integer) and isinstance(new, types.Integer)):
        return None
    sig = types.boolean(flags, index, expected, new)

    def codegen(context, builder, sig, args):
        ptr = _int64_slot(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        exp = context.cast(builder, args[2], sig.args[2], types.int64)
        new_ = context.cast(builder, args[3], sig.args[3], types.int64)
        pair = builder.cmpxchg(ptr, exp, new_, "seq_cst", "seq_cst")
        return builder.extract_value(pair, 1)
    return sig, codegen
