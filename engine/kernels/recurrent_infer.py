"""LSTM prediction: the time loop without what only the backward pass needs.

Training keeps every step's state and gates ((N, T+1, u) h and c, (N, T, 4u) gates) for the
backward pass: for the seed IMDB model at batch 256 that is 210 MB written per batch. Here
each block of batch rows keeps only its current h and c; the output sequence is written when
asked for. The blocks are larger than training's (a block's product per step is one
single-threaded sgemm, 77-87 GFLOP/s at 32-64 rows against 61-66 for the small-block loop of
engine/kernels/rnn_math.py), and the threads take them from a counter
(engine/threading_policy.py).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from engine.kernels.gemm import sgemm
from engine.kernels.parallel import fetch_add
from engine.kernels.rnn_math import OPT, SIGMOID, TANH, activate, fast_sigmoid, fast_tanh


@njit(**OPT)
def _cell(act, rec_act, zr, cr, hr, tc, u):
    """One row's LSTM cell on its pre-activations zr (4u, bias added): c, h updated."""
    g = 4 * u
    if act == TANH and rec_act == SIGMOID:       # the defaults: one pass
        for j in range(u):
            ig = fast_sigmoid(zr[j])
            fg = fast_sigmoid(zr[u + j])
            cg = fast_tanh(zr[2 * u + j])
            og = fast_sigmoid(zr[3 * u + j])
            c = fg * cr[j] + ig * cg
            cr[j] = c
            hr[j] = og * fast_tanh(c)
        return
    activate(rec_act, zr, 0, 2 * u)
    activate(act, zr, 2 * u, 3 * u)
    activate(rec_act, zr, 3 * u, g)
    for j in range(u):
        cr[j] = zr[u + j] * cr[j] + zr[j] * zr[2 * u + j]
        tc[j] = cr[j]
    activate(act, tc, 0, u)
    for j in range(u):
        hr[j] = zr[3 * u + j] * tc[j]


@njit(parallel=True, **OPT)
def lstm_predict_blocks(x, wu, bias, mask, h_last, c_last, hseq, act, rec_act, rows, nworkers):
    """Keras LSTM forward (gate order i, f, c̃, o) from zero states, for prediction.

    x: (N, T, d) float32; wu: (d + u, 4u) = [kernel; recurrent kernel]; bias: (4u,);
    mask: (N, T) uint8 (0: the step is skipped, the state carried over); h_last, c_last:
    (N, u) out: the final states; hseq: (N, T, u) out: h after every step, or (N, 0, u) when
    the sequence is not wanted. ``rows`` batch rows per block; ``nworkers`` threads.
    """
    n_all, n_steps, d = x.shape
    g = wu.shape[1]
    u = g // 4
    k = d + u
    nblocks = (n_all + rows - 1) // rows
    counter = np.zeros(1, np.int64)
    want_seq = hseq.shape[1] > 0
    for _ in prange(nworkers):
        hin = np.empty((rows, k), x.dtype)         # [x_t, h_{t-1}] of the block's rows
        z = np.empty((rows, g), x.dtype)
        c = np.empty((rows, u), x.dtype)
        tc = np.empty(u, x.dtype)
        while True:
            blk = fetch_add(counter, 0)
            if blk >= nblocks:
                break
            n0 = blk * rows
            nb = min(n_all, n0 + rows) - n0
            hin[:nb, d:] = 0
            c[:nb] = 0
            for t in range(n_steps):
                for r in range(nb):
                    xr = x[n0 + r, t]
                    hr = hin[r]
                    for j in range(d):
                        hr[j] = xr[j]
                sgemm(False, False, nb, g, k, 1.0, hin.ctypes.data, k, wu.ctypes.data, g, 0.0,
                      z.ctypes.data, g)
                for r in range(nb):
                    n = n0 + r
                    h = hin[r, d:]
                    if mask[n, t] != 0:
                        zr = z[r]
                        for j in range(g):
                            zr[j] += bias[j]
                        _cell(act, rec_act, zr, c[r], h, tc, u)
                    if want_seq:
                        out = hseq[n, t]
                        for j in range(u):
                            out[j] = h[j]
            for r in range(nb):
                for j in range(u):
                    h_last[n0 + r, j] = hin[r, d + j]
                    c_last[n0 + r, j] = c[r, j]
