"""Time loops of SimpleRNN, LSTM and GRU, forward and backward, each one numba call per batch.

The layers do the big products outside (x·kernel for all steps before the forward loop; the
weight gradients and dx from the stacked per-step gradients after the backward loop); these
kernels do the sequential part: per step the recurrent product (rnn_math.matmul_rows) and the
fused cell. Rows of the batch are independent through time, so the batch is cut into
``nchunks`` blocks of rows that run the whole loop on their own threads, with no
synchronization per step.

Shared arguments (N batch, T steps, u units, G = gates·u):
  xw      (N, T, G)    x·kernel + input bias of every step
  rmask   (N, u)       recurrent dropout mask, applied to h before the recurrent product (ones)
  mask    (N, T) uint8 1: the step is used; 0: the step is skipped and the state carried over
  hs      (N, T+1, u)  hs[:, 0] is the initial state; the loop writes the state after step t
                       to hs[:, t+1] (a skipped step copies the previous one)
  dseq    (N, T, u)    gradient of the output sequence, or (N, 0, u) when only the last output
                       is used (its gradient then arrives through dh)
  dh      (N, u)       in: gradient of the final h; out: gradient of the initial h
  act, rec_act         activation codes (rnn_math.CODES)
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from engine.kernels.parallel import fetch_add
from engine.kernels.rnn_math import (OPT, SIGMOID, TANH, activate, fast_sigmoid, fast_tanh,
                                    matmul_acc_tn, matmul_rows, times_derivative)


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
def _add_output_grad(dseq, dh, n, t):
    if dseq.shape[1] > 0:
        ds = dseq[n, t]
        dhn = dh[n]
        for j in range(dhn.shape[0]):
            dhn[j] += ds[j]


@njit(**OPT)
def _add_input_row(zr, bias, proj, tok, n, t, tokens):
    """zr += bias, and proj[tok[n, t]] in token mode (the step's input product, made once per
    distinct input row by the layer: lstm_forward_blocks)."""
    if tokens:
        pr = proj[tok[n, t]]
        for j in range(zr.shape[0]):
            zr[j] += bias[j] + pr[j]
    else:
        for j in range(zr.shape[0]):
            zr[j] += bias[j]


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


@njit(inline="always", **OPT)
def _lstm_cell_backward(act, rec_act, gr, cp, cn, dhn, dcn, tc, dtc, dr):
    """One LSTM cell's backward step for any activations: dr (4u,) gets the gradients of the
    gate pre-activations (i, f, c, o) from dhn and dcn; dcn becomes the carry's gradient for
    the step before and dhn is cleared. gr: the step's gate values, cp/cn: carry before/after;
    tc, dtc: (u,) scratch."""
    u = tc.shape[0]
    g = 4 * u
    zero = gr.dtype.type(0)
    for j in range(u):
        tc[j] = cn[j]
    activate(act, tc, 0, u)
    for j in range(u):
        dtc[j] = dhn[j] * gr[3 * u + j]
    times_derivative(act, tc, dtc, 0, u)
    for j in range(u):
        dct = dcn[j] + dtc[j]
        dr[j] = dct * gr[2 * u + j]
        dr[u + j] = dct * cp[j]
        dr[2 * u + j] = dct * gr[j]
        dr[3 * u + j] = dhn[j] * tc[j]
        dcn[j] = dct * gr[u + j]
        dhn[j] = zero
    times_derivative(rec_act, gr, dr, 0, 2 * u)
    times_derivative(act, gr, dr, 2 * u, 3 * u)
    times_derivative(rec_act, gr, dr, 3 * u, g)


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


# ------------------------------------------------------------------------------ LSTM, fused
# The layer's path. Unlike lstm_forward/lstm_backward above (which the tests keep as the
# reference), these also do the input products, so that a whole training step of the layer is
# two parallel regions with no BLAS call: per step z = [x_t, h_{t-1}·rmask] @ [kernel; U] + b,
# and in backward [dx_t, dh] = dz_t @ [kernel; U]ᵀ and dW += [x_t, h_{t-1}·rmask]ᵀ·dz_t (in
# blocks of steps). Blocks of ``rows`` batch rows run the whole time loop; the threads take
# blocks from a shared counter, so a thread that the OS slows down (a busy machine) takes fewer
# blocks instead of holding the other one up.

@njit(parallel=True, **OPT)
def lstm_forward_blocks(x, wu, bias, rmask, mask, hs, cs, gates, act, rec_act, rows, counter,
                        nworkers, proj, tok):
    """x: (N, T, d) inputs; wu: (d + u, 4u) = [kernel; recurrent kernel]; bias: (4u,) (zeros
    without bias); counter: (1,) int64 zero; other arguments as lstm_forward.

    Token mode (tok (N, T) int32, not empty): the step's input product is a row of ``proj``
    (P, 4u), z = proj[tok[n, t]] + h_{t-1}·rmask @ U + b; x is then (N, T, 0) and wu = U. The
    caller makes proj = rows @ kernel once per distinct input row (LSTM.forward_tokens).
    Otherwise proj is (0, 4u) and tok (0, 0)."""
    n_all, n_steps, d = x.shape
    g = wu.shape[1]
    u = g // 4
    nblocks = (n_all + rows - 1) // rows
    zero = x.dtype.type(0)
    tokens = tok.shape[0] > 0
    for _ in prange(nworkers):
        tc = np.empty(u, x.dtype)
        while True:
            blk = fetch_add(counter, 0)
            if blk >= nblocks:
                break
            n0 = blk * rows
            nb = min(n_all, n0 + rows) - n0
            hin = np.empty((nb, d + u), x.dtype)
            z = np.empty((nb, g), x.dtype)
            for t in range(n_steps):
                for r in range(nb):
                    n = n0 + r
                    xr = x[n, t]
                    hp = hs[n, t]
                    rm = rmask[n]
                    hr = hin[r]
                    for j in range(d):
                        hr[j] = xr[j]
                    for j in range(u):
                        hr[d + j] = hp[j] * rm[j]
                matmul_rows(hin, wu, z)
                for r in range(nb):
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
                    _add_input_row(zr, bias, proj, tok, n, t, tokens)
                    if act == TANH and rec_act == SIGMOID:    # the defaults: fewer passes
                        for j in range(2 * u):
                            zr[j] = fast_sigmoid(zr[j])
                        for j in range(2 * u, 3 * u):
                            zr[j] = fast_tanh(zr[j])
                        for j in range(3 * u, g):
                            zr[j] = fast_sigmoid(zr[j])
                        for j in range(g):
                            gr[j] = zr[j]
                        for j in range(u):
                            c = zr[u + j] * cp[j] + zr[j] * zr[2 * u + j]
                            cn[j] = c
                            hn[j] = zr[3 * u + j] * fast_tanh(c)
                        continue
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
def lstm_backward_blocks(x, hs, cs, gates, wu_t, rmask, mask, dseq, dh, dc, dx, acc, acc_b,
                         act, rec_act, rows, tblock, counter, keep_dz):
    """Backward of lstm_forward_blocks.

    wu_t: (4u, d + u) = [kernel; recurrent kernel]ᵀ when dx is wanted, else (4u, u) = Uᵀ;
    dx: (N, T, d) out (unused without dx); acc: (W, d + u, 4u) out: each worker's sum of
    [x_t, h_{t-1}·rmask]ᵀ·dz_t, dz_t the gradient of the gate pre-activations (the sum over
    workers is [dkernel; drecurrent]); acc_b: (W, 4u) out: each worker's sum of dz_t (the
    bias gradient). The weight-gradient product runs once per ``tblock`` steps, on the steps'
    inputs and dz gathered in a block buffer. counter: (1,) int64 zero. keep_dz: overwrite
    gates[n, t] with dz_t (token mode: the caller sums dz per distinct input row).
    """
    n_all, n_steps, g = gates.shape
    d = x.shape[2]
    u = g // 4
    cols = wu_t.shape[1]
    off = cols - u           # d when dx is computed, else 0
    nblocks = (n_all + rows - 1) // rows
    zero = gates.dtype.type(0)
    one = gates.dtype.type(1)
    for w in prange(acc.shape[0]):
        aw = acc[w]
        bw = acc_b[w]
        for k in range(aw.shape[0]):
            for j in range(g):
                aw[k, j] = zero
        for j in range(g):
            bw[j] = zero
        tc = np.empty(u, gates.dtype)
        dtc = np.empty(u, gates.dtype)
        while True:
            blk = fetch_add(counter, 0)
            if blk >= nblocks:
                break
            n0 = blk * rows
            nb = min(n_all, n0 + rows) - n0
            dzt = np.empty((nb, g), gates.dtype)
            dxh = np.empty((nb, cols), gates.dtype)
            # row r·tblock + t % tblock: row r of the block at step t. Zeros in the slots of
            # steps past the end (the first, partial block of steps).
            a_in = np.zeros((nb * tblock, d + u), gates.dtype)
            dzb = np.zeros((nb * tblock, g), gates.dtype)
            for t in range(n_steps - 1, -1, -1):
                slot = t % tblock
                for r in range(nb):
                    n = n0 + r
                    _add_output_grad(dseq, dh, n, t)
                    dr = dzt[r]
                    dzo = dzb[r * tblock + slot]
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
                    if act == TANH and rec_act == SIGMOID:    # the defaults: one pass
                        for j in range(u):
                            tcj = fast_tanh(cn[j])
                            ig = gr[j]
                            fg = gr[u + j]
                            cg = gr[2 * u + j]
                            og = gr[3 * u + j]
                            dhj = dhn[j]
                            dct = dcn[j] + dhj * og * (one - tcj * tcj)
                            dr[j] = dct * cg * ig * (one - ig)
                            dr[u + j] = dct * cp[j] * fg * (one - fg)
                            dr[2 * u + j] = dct * ig * (one - cg * cg)
                            dr[3 * u + j] = dhj * tcj * og * (one - og)
                            dcn[j] = dct * fg
                            dhn[j] = zero
                    else:
                        _lstm_cell_backward(act, rec_act, gr, cp, cn, dhn, dcn, tc, dtc, dr)
                    for j in range(g):
                        dzo[j] = dr[j]
                        bw[j] += dr[j]
                    if keep_dz:
                        for j in range(g):
                            gr[j] = dr[j]
                matmul_rows(dzt, wu_t, dxh)
                for r in range(nb):
                    n = n0 + r
                    dxr = dxh[r]
                    if off > 0:
                        dxo = dx[n, t]
                        for j in range(off):
                            dxo[j] = dxr[j]
                    dhn = dh[n]
                    rm = rmask[n]
                    for j in range(u):
                        dhn[j] += dxr[off + j] * rm[j]
                    # the inputs of this step's products, for the weight gradient
                    ar = a_in[r * tblock + slot]
                    xr = x[n, t]
                    hp = hs[n, t]
                    for j in range(d):
                        ar[j] = xr[j]
                    for j in range(u):
                        ar[d + j] = hp[j] * rm[j]
                if slot == 0:
                    matmul_acc_tn(a_in, dzb, aw)
