"""Reference time loops of SimpleRNN, LSTM and GRU (the engine's path before its fused block
kernels), kept for the tests: tests/engine/test_recurrent_blocks.py checks the block kernels
of engine/kernels/recurrent.py and recurrent_blocks.py against these.

The layer did the big products outside (x·kernel for all steps before the forward loop; the
weight gradients and dx from the stacked per-step gradients after the backward loop); these
kernels do the sequential part: per step the recurrent product (rnn_math.matmul_rows) and the
fused cell. The batch is cut into ``nchunks`` blocks of rows, split statically between
threads by prange — which is why the engine no longer runs them (a descheduled thread held up
the step; threading_policy.py).

Arguments as in engine/kernels/recurrent.py, and
  xw      (N, T, G)    x·kernel + input bias of every step
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from engine.kernels.recurrent import _add_output_grad, _lstm_cell_backward
from engine.kernels.rnn_math import OPT, activate, matmul_rows, times_derivative


@njit(**OPT)
def _chunk(chunk, nchunks, n_all):
    return chunk * n_all // nchunks, (chunk + 1) * n_all // nchunks


@njit(**OPT)
def _dropped_state(hs, rmask, t, n0, hin):
    """hin[r] = hs[n0 + r, t] · rmask[n0 + r]: the recurrent product's input."""
    u = hin.shape[1]
    for r in range(hin.shape[0]):
        hp = hs[n0 + r, t]
        rm = rmask[n0 + r]
        hr = hin[r]
        for j in range(u):
            hr[j] = hp[j] * rm[j]


@njit(**OPT)
def _add_recurrent_grad(dh, dhr, rmask, n0):
    """dh[n0 + r] += dhr[r] · rmask[n0 + r]."""
    u = dh.shape[1]
    for r in range(dhr.shape[0]):
        dhn = dh[n0 + r]
        rm = rmask[n0 + r]
        for j in range(u):
            dhn[j] += dhr[r, j] * rm[j]


# ------------------------------------------------------------------------------ SimpleRNN
@njit(parallel=True, **OPT)
def simple_rnn_forward(xw, u_mat, rmask, mask, hs, act, nchunks):
    """h_t = act(xw_t + (h_{t-1}·rmask) @ u_mat). u_mat: (u, u)."""
    n_all, n_steps, u = xw.shape
    for chunk in prange(nchunks):
        n0, n1 = _chunk(chunk, nchunks, n_all)
        hin = np.empty((n1 - n0, u), xw.dtype)
        z = np.empty((n1 - n0, u), xw.dtype)
        for t in range(n_steps):
            _dropped_state(hs, rmask, t, n0, hin)
            matmul_rows(hin, u_mat, z)
            for r in range(n1 - n0):
                n = n0 + r
                hp = hs[n, t]
                hn = hs[n, t + 1]
                if mask[n, t] == 0:
                    for j in range(u):
                        hn[j] = hp[j]
                    continue
                zr = z[r]
                xr = xw[n, t]
                for j in range(u):
                    hn[j] = xr[j] + zr[j]
                activate(act, hn, 0, u)


@njit(parallel=True, **OPT)
def simple_rnn_backward(u_t, rmask, mask, hs, dseq, dh, dz, act, nchunks):
    """dz: (N, T, u) out: gradient of the pre-activation. u_t: (u, u) transposed kernel."""
    n_all, n_steps, u = dz.shape
    for chunk in prange(nchunks):
        n0, n1 = _chunk(chunk, nchunks, n_all)
        dzt = np.empty((n1 - n0, u), dz.dtype)
        dhr = np.empty((n1 - n0, u), dz.dtype)
        zero = dz.dtype.type(0)
        for t in range(n_steps - 1, -1, -1):
            for r in range(n1 - n0):
                n = n0 + r
                _add_output_grad(dseq, dh, n, t)
                dr = dzt[r]
                dzo = dz[n, t]
                dhn = dh[n]
                if mask[n, t] == 0:
                    for j in range(u):
                        dr[j] = zero
                        dzo[j] = zero
                    continue
                for j in range(u):
                    dr[j] = dhn[j]
                    dhn[j] = zero
                times_derivative(act, hs[n, t + 1], dr, 0, u)
                for j in range(u):
                    dzo[j] = dr[j]
            matmul_rows(dzt, u_t, dhr)
            _add_recurrent_grad(dh, dhr, rmask, n0)


# ------------------------------------------------------------------------------ LSTM
@njit(parallel=True, **OPT)
def lstm_forward(xw, u_mat, rmask, mask, hs, cs, gates, act, rec_act, nchunks):
    """Keras LSTM, gate order i, f, c̃, o: c_t = f·c_{t-1} + i·c̃, h_t = o·act(c_t).

    u_mat: (u, 4u); cs: (N, T+1, u) like hs for the carry; gates: (N, T, 4u) out: the
    activated gates (zeros at skipped steps).
    """
    n_all, n_steps, g = xw.shape
    u = g // 4
    for chunk in prange(nchunks):
        n0, n1 = _chunk(chunk, nchunks, n_all)
        hin = np.empty((n1 - n0, u), xw.dtype)
        z = np.empty((n1 - n0, g), xw.dtype)
        tc = np.empty(u, xw.dtype)
        zero = xw.dtype.type(0)
        for t in range(n_steps):
            _dropped_state(hs, rmask, t, n0, hin)
            matmul_rows(hin, u_mat, z)
            for r in range(n1 - n0):
                n = n0 + r
                gr = gates[n, t]
                cp = cs[n, t]
                cn = cs[n, t + 1]
                hp = hs[n, t]
                hn = hs[n, t + 1]
                if mask[n, t] == 0:
                    for j in range(u):
                        cn[j] = cp[j]
                        hn[j] = hp[j]
                    for j in range(g):
                        gr[j] = zero
                    continue
                zr = z[r]
                xr = xw[n, t]
                for j in range(g):
                    zr[j] += xr[j]
                activate(rec_act, zr, 0, 2 * u)
                activate(act, zr, 2 * u, 3 * u)
                activate(rec_act, zr, 3 * u, g)
                for j in range(g):
                    gr[j] = zr[j]
                for j in range(u):
                    cn[j] = zr[u + j] * cp[j] + zr[j] * zr[2 * u + j]
                for j in range(u):
                    tc[j] = cn[j]
                activate(act, tc, 0, u)
                for j in range(u):
                    hn[j] = zr[3 * u + j] * tc[j]


@njit(parallel=True, **OPT)
def lstm_backward(u_t, rmask, mask, gates, cs, dseq, dh, dc, dz, act, rec_act, nchunks):
    """u_t: (4u, u) transposed recurrent kernel; dc: (N, u) like dh, for the carry;
    dz: (N, T, 4u) out: gradient of the gate pre-activations (zeros at skipped steps)."""
    n_all, n_steps, g = gates.shape
    u = g // 4
    for chunk in prange(nchunks):
        n0, n1 = _chunk(chunk, nchunks, n_all)
        dzt = np.empty((n1 - n0, g), gates.dtype)
        dhr = np.empty((n1 - n0, u), gates.dtype)
        tc = np.empty(u, gates.dtype)
        dtc = np.empty(u, gates.dtype)
        zero = gates.dtype.type(0)
        for t in range(n_steps - 1, -1, -1):
            for r in range(n1 - n0):
                n = n0 + r
                _add_output_grad(dseq, dh, n, t)
                dr = dzt[r]
                dzo = dz[n, t]
                if mask[n, t] == 0:
                    for j in range(g):
                        dr[j] = zero
                        dzo[j] = zero
                    continue
                gr = gates[n, t]
                cp = cs[n, t]
                cn = cs[n, t + 1]
                dhn = dh[n]
                dcn = dc[n]
                _lstm_cell_backward(act, rec_act, gr, cp, cn, dhn, dcn, tc, dtc, dr)
                for j in range(g):
                    dzo[j] = dr[j]
            matmul_rows(dzt, u_t, dhr)
            _add_recurrent_grad(dh, dhr, rmask, n0)


# ------------------------------------------------------------------------------ GRU
@njit(parallel=True, **OPT)
def gru_forward(xw, u1, u2, brec, rmask, mask, hs, gates, rec_h, act, rec_act, reset_after,
                nchunks):
    """Keras GRU, gate order z, r, h̃: h_t = z·h_{t-1} + (1 − z)·h̃.

    reset_after (Keras 3 default): h̃ = act(x_h + r·(h·U_h + b_h)); u1 = recurrent kernel
    (u, 3u), brec = recurrent bias (3u,), u2 unused. Otherwise h̃ = act(x_h + (r·h)·U_h):
    u1 = kernel[:, :2u] (u, 2u), u2 = kernel[:, 2u:] (u, u), brec unused.
    gates: (N, T, 3u) out: z, r, h̃. rec_h: (N, T, u) out: h·U_h + b_h (reset_after) or r·h.
    """
    n_all, n_steps, g = xw.shape
    u = g // 3
    for chunk in prange(nchunks):
        n0, n1 = _chunk(chunk, nchunks, n_all)
        nb = n1 - n0
        hin = np.empty((nb, u), xw.dtype)
        m = np.empty((nb, u1.shape[1]), xw.dtype)
        q = np.empty((nb, u), xw.dtype)
        p = np.empty((nb, u), xw.dtype)
        zero = xw.dtype.type(0)
        one = xw.dtype.type(1)
        for t in range(n_steps):
            _dropped_state(hs, rmask, t, n0, hin)
            matmul_rows(hin, u1, m)
            for r in range(nb):
                n = n0 + r
                gr = gates[n, t]
                rh = rec_h[n, t]
                hp = hs[n, t]
                hn = hs[n, t + 1]
                if mask[n, t] == 0:
                    for j in range(u):
                        hn[j] = hp[j]
                        rh[j] = zero
                        q[r, j] = zero
                    for j in range(g):
                        gr[j] = zero
                    continue
                mr = m[r]
                xr = xw[n, t]
                if reset_after:
                    for j in range(g):
                        mr[j] += brec[j]
                for j in range(2 * u):
                    gr[j] = xr[j] + mr[j]
                activate(rec_act, gr, 0, 2 * u)
                if reset_after:
                    for j in range(u):
                        rh[j] = mr[2 * u + j]
                        gr[2 * u + j] = xr[2 * u + j] + gr[u + j] * mr[2 * u + j]
                    activate(act, gr, 2 * u, g)
                    for j in range(u):
                        hn[j] = gr[j] * hp[j] + (one - gr[j]) * gr[2 * u + j]
                else:
                    for j in range(u):
                        q[r, j] = gr[u + j] * hin[r, j]
                        rh[j] = q[r, j]
            if reset_after:
                continue
            matmul_rows(q, u2, p)
            for r in range(nb):
                n = n0 + r
                if mask[n, t] == 0:
                    continue
                gr = gates[n, t]
                xr = xw[n, t]
                hp = hs[n, t]
                hn = hs[n, t + 1]
                for j in range(u):
                    gr[2 * u + j] = xr[2 * u + j] + p[r, j]
                activate(act, gr, 2 * u, g)
                for j in range(u):
                    hn[j] = gr[j] * hp[j] + (one - gr[j]) * gr[2 * u + j]


@njit(**OPT)
def _gru_update_grads(dh, hp, gr, dx, u, act, rec_act):
    """From dL/dh_t: dx[:u] = dL/d(z pre-act), dx[2u:] = dL/d(h̃ pre-act); dh becomes the
    direct part z·dh of dL/dh_{t-1}."""
    one = gr.dtype.type(1)
    for j in range(u):
        dx[j] = dh[j] * (hp[j] - gr[2 * u + j])
        dx[2 * u + j] = dh[j] * (one - gr[j])
        dh[j] *= gr[j]
    times_derivative(rec_act, gr, dx, 0, u)
    times_derivative(act, gr, dx, 2 * u, 3 * u)


@njit(parallel=True, **OPT)
def gru_backward(u1_t, u2_t, rmask, mask, hs, gates, rec_h, dseq, dh, dxw, drec, act, rec_act,
                 reset_after, nchunks):
    """u1_t, u2_t: transposes of gru_forward's u1, u2. dxw: (N, T, 3u) out: gradient of xw.
    drec: (N, T, 3u) out (reset_after only): gradient of h·U + b_rec. Without reset_after the
    gradient of the recurrent products is dxw itself (their inputs are h·rmask and r·h)."""
    n_all, n_steps, g = gates.shape
    u = g // 3
    for chunk in prange(nchunks):
        n0, n1 = _chunk(chunk, nchunks, n_all)
        nb = n1 - n0
        dzt = np.empty((nb, u1_t.shape[0]), gates.dtype)
        dhr = np.empty((nb, u), gates.dtype)
        dah = np.empty((nb, u), gates.dtype)
        dq = np.empty((nb, u), gates.dtype)
        zero = gates.dtype.type(0)
        for t in range(n_steps - 1, -1, -1):
            for r in range(nb):
                n = n0 + r
                _add_output_grad(dseq, dh, n, t)
                dx = dxw[n, t]
                dr = dzt[r]
                if mask[n, t] == 0:
                    for j in range(g):
                        dx[j] = zero
                        if reset_after:
                            drec[n, t, j] = zero
                    for j in range(dr.shape[0]):
                        dr[j] = zero
                    for j in range(u):
                        dah[r, j] = zero
                    continue
                gr = gates[n, t]
                _gru_update_grads(dh[n], hs[n, t], gr, dx, u, act, rec_act)
                if reset_after:
                    rh = rec_h[n, t]
                    for j in range(u):
                        dx[u + j] = dx[2 * u + j] * rh[j]
                    times_derivative(rec_act, gr, dx, u, 2 * u)
                    dre = drec[n, t]
                    for j in range(2 * u):
                        dre[j] = dx[j]
                        dr[j] = dx[j]
                    for j in range(u):
                        dre[2 * u + j] = dx[2 * u + j] * gr[u + j]
                        dr[2 * u + j] = dre[2 * u + j]
                else:
                    for j in range(u):
                        dah[r, j] = dx[2 * u + j]
            if not reset_after:
                # q = r·(h·rmask): dq = dah @ U_hᵀ, dr = dq·h·rmask, dh += dq·r·rmask
                matmul_rows(dah, u2_t, dq)
                for r in range(nb):
                    n = n0 + r
                    if mask[n, t] == 0:
                        for j in range(u):
                            dq[r, j] = zero
                        continue
                    gr = gates[n, t]
                    dx = dxw[n, t]
                    hp = hs[n, t]
                    rm = rmask[n]
                    for j in range(u):
                        dx[u + j] = dq[r, j] * hp[j] * rm[j]
                        dq[r, j] *= gr[u + j]
                    times_derivative(rec_act, gr, dx, u, 2 * u)
                    dr = dzt[r]
                    for j in range(2 * u):
                        dr[j] = dx[j]
                _add_recurrent_grad(dh, dq, rmask, n0)
            matmul_rows(dzt, u1_t, dhr)
            _add_recurrent_grad(dh, dhr, rmask, n0)


