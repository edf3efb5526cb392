"""Special functions numpy lacks, as numba kernels: ``erf`` (exact, from libm via numba)."""
from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _erf(x, y):
    for i in range(x.size):
        y[i] = math.erf(x[i])


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise; x: any shape, float32/64 (result of x's dtype)."""
    x = np.asarray(x)
    y = np.empty(x.shape, dtype=x.dtype)
    _erf(np.ascontiguousarray(x).reshape(-1), y.reshape(-1))
    return y
