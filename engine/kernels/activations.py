"""Fused elementwise activation kernels for the per-step hot path."""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def _relu_fwd(x, y):
    for i in range(x.size):
        v = x[i]
        y[i] = v if v > 0 else 0


@njit(cache=True, nogil=True, error_model="numpy")
def _relu_bwd(y, dy, dx):
    for i in range(y.size):
        dx[i] = dy[i] if y[i] > 0 else 0


@njit(cache=True, nogil=True, error_model="numpy")
def _softmax_rows(x, y):
    n, k = x.shape
    for i in range(n):
        m = x[i, 0]
        for j in range(1, k):
            if x[i, j] > m:
                m = x[i, j]
        s = 0.0
        for j in range(k):
            e = np.exp(x[i, j] - m)
            y[i, j] = e
            s += e
        inv = 1.0 / s
        for j in range(k):
            y[i, j] *= inv


def relu_forward(x: np.ndarray) -> np.ndarray:
    """max(x, 0); x: any shape, float32/64."""
    x = np.ascontiguousarray(x)
    y = np.empty(x.shape, dtype=x.dtype)
    _relu_fwd(x.reshape(-1), y.reshape(-1))
    return y


def relu_backward(y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """dy where the relu output is positive, else 0."""
    dy = np.ascontiguousarray(dy)
    dx = np.empty(dy.shape, dtype=dy.dtype)
    _relu_bwd(np.ascontiguousarray(y).reshape(-1), dy.reshape(-1), dx.reshape(-1))
    return dx


def softmax_lastaxis(x: np.ndarray) -> np.ndarray:
    """Row softmax of a C-contiguous (N, K) array."""
    y = np.empty(x.shape, dtype=x.dtype)
    _softmax_rows(x, y)
    return y
