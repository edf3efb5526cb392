"""numba kernels: ``@njit(cache=True, nogil=True)``, grouped like the layers that use them.

Threading (how many threads, BLAS vs numba, dynamic work sharing): engine/threading_policy.py.
"""
