"""numba kernels: ``@njit(cache=True, nogil=True)``, grouped like the layers that use them."""
