"""SimpleRNN and GRU on the LSTM's block scheme (engine/kernels/recurrent.py,
lstm_forward_blocks): each layer's training step is two parallel regions with no BLAS call.
Blocks of ``rows`` batch rows run the whole time loop; the threads take blocks from a shared
counter as they come free (a thread slowed by another program takes fewer blocks). Per step a
block does its small products (rnn_math.matmul_rows); the weight gradients are summed per
worker, one product per ``tblock`` steps over the steps' inputs and gradients gathered in block
buffers (the sum over workers is the gradient).

Shapes (N batch, T steps, d features, u units; see recurrent.py for rmask, mask, hs, dseq, dh):
  x (N, T, d) the (dropped-out) inputs; counter (1,) int64 zero; nworkers: threads to use.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from engine.kernels.recurrent import _add_input_row, _add_output_grad
from engine.kernels.parallel import fetch_add
from engine.kernels.rnn_math import (OPT, SIGMOID, TANH, activate, fast_sigmoid, fast_tanh,
                                    matmul_acc_tn, matmul_rows, times_derivative)


@njit(**OPT)
def _gather(src, n0, t, nb, out, col, rmask):
    """out[r, col:col + k] = src[n0 + r, t] (· rmask[n0 + r] when rmask has rows) for r < nb."""
    k = src.shape[2]
    use_mask = rmask.shape[0] > 0
    for r in range(nb):
        s = src[n0 + r, t]
        o = out[r]
        if use_mask:
            rm = rmask[n0 + r]
            for j in range(k):
                o[col + j] = s[j] * rm[j]
        else:
            for j in range(k):
                o[col + j] = s[j]


@njit(**OPT)
def _clear(a):
    zero = a.dtype.type(0)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            a[i, j] = zero


# ------------------------------------------------------------------------------ SimpleRNN
@njit(parallel=True, **OPT)
def simple_rnn_forward_blocks(x, wu, bias, rmask, mask, hs, act, rows, counter, nworkers, proj,
                              tok):
    """h_t = act([x_t, h_{t-1}·rmask] @ wu + bias). wu: (d + u, u) = [kernel; recurrent
    kernel]; bias (u,) (zeros without bias). Token mode (tok (N, T) int32 not empty, x
    (N, T, 0), wu = U): the input product is the row proj[tok[n, t]] (lstm_forward_blocks)."""
    n_all, n_steps, d = x.shape
    u = wu.shape[1]
    nblocks = (n_all + rows - 1) // rows
    tokens = tok.shape[0] > 0
    for _ in prange(nworkers):
        while True:
            blk = fetch_add(counter, 0)
            if blk >= nblocks:
                break
            n0 = blk * rows
            nb = min(n_all, n0 + rows) - n0
            hin = np.empty((nb, d + u), x.dtype)
            z = np.empty((nb, u), x.dtype)
            for t in range(n_steps):
                _gather(x, n0, t, nb, hin, 0, rmask[:0])
                _gather(hs, n0, t, nb, hin, d, rmask)
                matmul_rows(hin, wu, z)
                for r in range(nb):
                    n = n0 + r
                    hp = hs[n, t]
                    hn = hs[n, t + 1]
                    if mask[n, t] == 0:
                        for j in range(u):
                            hn[j] = hp[j]
                        continue
                    zr = z[r]
                    _add_input_row(zr, bias, proj, tok, n, t, tokens)
                    if act == TANH:
                        for j in range(u):
                            hn[j] = fast_tanh(zr[j])
                        continue
                    for j in range(u):
                        hn[j] = zr[j]
                    activate(act, hn, 0, u)


@njit(parallel=True, **OPT)
def simple_rnn_backward_blocks(x, hs, wu_t, rmask, mask, dseq, dh, dx, acc, acc_b, act, rows,
                               tblock, counter, dzs):
    """Backward of simple_rnn_forward_blocks. wu_t: (u, d + u) = [kernel; recurrent kernel]ᵀ
    when dx is wanted, else (u, u) = Uᵀ; dx (N, T, d) out (unused without dx); acc (W, d + u, u)
    out: each worker's Σ [x_t, h_{t-1}·rmask]ᵀ·dz_t; acc_b (W, u) out: each worker's Σ dz_t.
    dzs: (N, T, u) out, every step's dz (token mode), or (0, 0, 0)."""
    n_all, n_steps, u = dseq.shape[0], hs.shape[1] - 1, hs.shape[2]
    d = x.shape[2]
    cols = wu_t.shape[1]
    off = cols - u           # d when dx is computed, else 0
    nblocks = (n_all + rows - 1) // rows
    zero = hs.dtype.type(0)
    one = hs.dtype.type(1)
    for w in prange(acc.shape[0]):
        aw = acc[w]
        bw = acc_b[w]
        aw[:] = 0
        bw[:] = 0
        while True:
            blk = fetch_add(counter, 0)
            if blk >= nblocks:
                break
            n0 = blk * rows
            nb = min(n_all, n0 + rows) - n0
            dzt = np.empty((nb, u), hs.dtype)
            dxh = np.empty((nb, cols), hs.dtype)
            a_in = np.zeros((nb * tblock, d + u), hs.dtype)
            dzb = np.zeros((nb * tblock, u), hs.dtype)
            for t in range(n_steps - 1, -1, -1):
                slot = t % tblock
                for r in range(nb):
                    n = n0 + r
                    _add_output_grad(dseq, dh, n, t)
                    dr = dzt[r]
                    dzo = dzb[r * tblock + slot]
                    dhn = dh[n]
                    if mask[n, t] == 0:
                        for j in range(u):
                            dr[j] = zero
                            dzo[j] = zero
                        if dzs.shape[0] > 0:
                            dzs[n, t] = zero
                        continue
                    hn = hs[n, t + 1]
                    if act == TANH:
                        for j in range(u):
                            dr[j] = dhn[j] * (one - hn[j] * hn[j])
                    else:
                        for j in range(u):
                            dr[j] = dhn[j]
                        times_derivative(act, hn, dr, 0, u)
                    for j in range(u):
                        dhn[j] = zero
                        dzo[j] = dr[j]
                        bw[j] += dr[j]
                    if dzs.shape[0] > 0:
                        for j in range(u):
                            dzs[n, t, j] = dr[j]
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
                _gather(x, n0, t, nb, a_in[slot::tblock], 0, rmask[:0])
                _gather(hs, n0, t, nb, a_in[slot::tblock], d, rmask)
                if slot == 0:
                    matmul_acc_tn(a_in, dzb, aw)


# ------------------------------------------------------------------------------ GRU
# Keras's gate order z, r, h̃: h_t = z·h_{t-1} + (1 − z)·h̃. reset_after (the Keras 3 default):
# h̃ = act(x·W_h + b_h + r·(h·U_h + b'_h)), u1 = U (u, 3u), brec = the recurrent bias (3u,);
# otherwise h̃ = act(x·W_h + b_h + (r·h)·U_h), u1 = U[:, :2u], u2 = U[:, 2u:].
# gates (N, T, 3u) out: z, r, h̃; rec_h (N, T, u) out: h·U_h + b'_h (reset_after) or r·h.

@njit(**OPT)
def _gru_gates(zx, m, brec, hp, hin_r, gr, rh, hn, q_r, u, act, rec_act, reset_after):
    """One row's gates from zx = x·W + b (3u) and m = h·u1 (u1's columns); reset_after also
    h̃ and the new state, otherwise q_r = r·(h·rmask) for the second product."""
    g = 3 * u
    if reset_after:
        for j in range(g):
            m[j] += brec[j]
    for j in range(2 * u):
        gr[j] = zx[j] + m[j]
    if rec_act == SIGMOID:
        for j in range(2 * u):
            gr[j] = fast_sigmoid(gr[j])
    else:
        activate(rec_act, gr, 0, 2 * u)
    if not reset_after:
        for j in range(u):
            q_r[j] = gr[u + j] * hin_r[j]
            rh[j] = q_r[j]
        return
    for j in range(u):
        rh[j] = m[2 * u + j]
        gr[2 * u + j] = zx[2 * u + j] + gr[u + j] * m[2 * u + j]
    _gru_new_state(gr, hp, hn, u, act)


@njit(**OPT)
def _gru_new_state(gr, hp, hn, u, act):
    """h̃ = act(gr[2u:]) in place, then h = z·h_{t-1} + (1 − z)·h̃."""
    one = gr.dtype.type(1)
    if act == TANH:
        gc = gr[2 * u:]                 # a view from 0 vectorizes (rnn_math.activate)
        for j in range(u):
            gc[j] = fast_tanh(gc[j])
    else:
        activate(act, gr, 2 * u, 3 * u)
    for j in range(u):
        hn[j] = gr[j] * hp[j] + (one - gr[j]) * gr[2 * u + j]


@njit(parallel=True, **OPT)
def gru_forward_blocks(x, w, bias, u1, u2, brec, rmask, mask, hs, gates, rec_h, act, rec_act,
                       reset_after, rows, counter, nworkers, proj, tok):
    """x: (N, T, d); w: (d, 3u) kernel; bias: (3u,) input bias (zeros without bias); u1, u2,
    brec as above (u2 (0, 0) with reset_after). Token mode (tok (N, T) int32 not empty, x
    (N, T, 0), w (0, 3u)): x_t·W is the row proj[tok[n, t]] (lstm_forward_blocks)."""
    n_all, n_steps, d = x.shape
    g = w.shape[1]
    u = g // 3
    nblocks = (n_all + rows - 1) // rows
    tokens = tok.shape[0] > 0
    zero = x.dtype.type(0)
    for _ in prange(nworkers):
        while True:
            blk = fetch_add(counter, 0)
            if blk >= nblocks:
                break
            n0 = blk * rows
            nb = min(n_all, n0 + rows) - n0
            xin = np.empty((nb, d), x.dtype)
            hin = np.empty((nb, u), x.dtype)
            zx = np.empty((nb, g), x.dtype)
            m = np.empty((nb, u1.shape[1]), x.dtype)
            q = np.zeros((nb, u), x.dtype)
            p = np.empty((nb, u), x.dtype)
            for t in range(n_steps):
                _gather(x, n0, t, nb, xin, 0, rmask[:0])
                _gather(hs, n0, t, nb, hin, 0, rmask)
                matmul_rows(xin, w, zx)
                matmul_rows(hin, u1, m)
                for r in range(nb):
                    n = n0 + r
                    gr = gates[n, t]
                    hp = hs[n, t]
                    hn = hs[n, t + 1]
                    zr = zx[r]
                    _add_input_row(zr, bias, proj, tok, n, t, tokens)
                    if mask[n, t] == 0:
                        for j in range(u):
                            hn[j] = hp[j]
                            rec_h[n, t, j] = zero
                            q[r, j] = zero
                        for j in range(g):
                            gr[j] = zero
                        continue
                    _gru_gates(zr, m[r], brec, hp, hin[r], gr, rec_h[n, t], hn, q[r], u, act,
                               rec_act, reset_after)
                if reset_after:
                    continue
                matmul_rows(q, u2, p)
                for r in range(nb):
                    n = n0 + r
                    if mask[n, t] == 0:
                        continue
                    gr = gates[n, t]
                    zr = zx[r]
                    for j in range(u):
                        gr[2 * u + j] = zr[2 * u + j] + p[r, j]
                    _gru_new_state(gr, hs[n, t], hs[n, t + 1], u, act)


@njit(**OPT)
def _gru_cell_grads(dhn, hp, gr, rh, dxz, drec, u, act, rec_act, reset_after):
    """From dL/dh_t (dhn): dxz (3u) = the gradient of x·W + b; with reset_after drec (3u) = the
    gradient of h·U + b'; otherwise dxz[2u:] is also the gradient of (r·h)·U_h and dxz[u:2u]
    is left for after that product. dhn becomes z·dhn (the direct part of dL/dh_{t-1})."""
    one = gr.dtype.type(1)
    for j in range(u):
        zj = gr[j]
        hh = gr[2 * u + j]
        dxz[j] = dhn[j] * (hp[j] - hh)
        dxz[2 * u + j] = dhn[j] * (one - zj)
        dhn[j] *= zj
    if rec_act == SIGMOID and act == TANH:
        for j in range(u):
            zj = gr[j]
            hh = gr[2 * u + j]
            dxz[j] *= zj * (one - zj)
            dxz[2 * u + j] *= one - hh * hh
    else:
        times_derivative(rec_act, gr, dxz, 0, u)
        times_derivative(act, gr, dxz, 2 * u, 3 * u)
    if not reset_after:
        return
    for j in range(u):
        dxz[u + j] = dxz[2 * u + j] * rh[j]
    times_derivative(rec_act, gr, dxz, u, 2 * u)
    for j in range(2 * u):
        drec[j] = dxz[j]
    for j in range(u):
        drec[2 * u + j] = dxz[2 * u + j] * gr[u + j]


@njit(parallel=True, **OPT)
def gru_backward_blocks(x, hs, gates, rec_h, w_t, u1_t, u2_t, rmask, mask, dseq, dh, dx,
                        acc_w, acc_u1, acc_u2, acc_b, acc_br, act, rec_act, reset_after,
                        need_dx, rows, tblock, counter, keep_dz):
    """Backward of gru_forward_blocks. w_t (3u, d), u1_t, u2_t: transposed w, u1, u2;
    dx (N, T, d) out when need_dx. Per worker W, out: acc_w (W, d, 3u) Σ x_tᵀ·dxz_t;
    acc_u1 (W, u, u1 cols) Σ (h·rmask)ᵀ·(its product's gradient); acc_u2 (W, u, u) Σ (r·h)ᵀ·dh̃
    (not reset_after); acc_b (W, 3u) Σ dxz; acc_br (W, 3u) Σ drec (reset_after). keep_dz:
    overwrite gates[n, t] with dxz_t (token mode: the caller sums it per distinct row)."""
    n_all, n_steps, g = gates.shape
    d = x.shape[2]
    u = g // 3
    g1 = u1_t.shape[0]
    nblocks = (n_all + rows - 1) // rows
    zero = hs.dtype.type(0)
    for wk in prange(acc_w.shape[0]):
        aw, au1, au2, ab, abr = acc_w[wk], acc_u1[wk], acc_u2[wk], acc_b[wk], acc_br[wk]
        aw[:] = 0
        au1[:] = 0
        au2[:] = 0
        ab[:] = 0
        abr[:] = 0
        while True:
            blk = fetch_add(counter, 0)
            if blk >= nblocks:
                break
            n0 = blk * rows
            nb = min(n_all, n0 + rows) - n0
            dxz = np.empty((nb, g), hs.dtype)      # gradient of x·W + b at this step
            dr1 = np.empty((nb, g1), hs.dtype)     # gradient of h·u1 (+ b') at this step
            dah = np.empty((nb, u), hs.dtype)      # gradient of (r·h)·U_h (not reset_after)
            dq = np.empty((nb, u), hs.dtype)
            dhr = np.empty((nb, u), hs.dtype)
            dxr = np.empty((nb, d), hs.dtype)
            a_x = np.zeros((nb * tblock, d), hs.dtype)
            a_h = np.zeros((nb * tblock, u), hs.dtype)
            a_q = np.zeros((nb * tblock, u), hs.dtype)
            b_x = np.zeros((nb * tblock, g), hs.dtype)
            b_1 = np.zeros((nb * tblock, g1), hs.dtype)
            b_q = np.zeros((nb * tblock, u), hs.dtype)
            for t in range(n_steps - 1, -1, -1):
                slot = t % tblock
                for r in range(nb):
                    n = n0 + r
                    _add_output_grad(dseq, dh, n, t)
                    if mask[n, t] == 0:
                        dxz[r] = zero
                        dr1[r] = zero
                        dah[r] = zero
                        continue
                    _gru_cell_grads(dh[n], hs[n, t], gates[n, t], rec_h[n, t], dxz[r], dr1[r],
                                    u, act, rec_act, reset_after)
                    if not reset_after:
                        for j in range(u):
                            dah[r, j] = dxz[r, 2 * u + j]
                if not reset_after:
                    # q = r·(h·rmask): dq = dh̃·U_hᵀ, dr = dq·h·rmask, dh += dq·r·rmask
                    matmul_rows(dah, u2_t, dq)
                    for r in range(nb):
                        n = n0 + r
                        if mask[n, t] == 0:
                            for j in range(u):
                                dq[r, j] = zero
                            continue
                        gr = gates[n, t]
                        hp = hs[n, t]
                        rm = rmask[n]
                        for j in range(u):
                            dxz[r, u + j] = dq[r, j] * hp[j] * rm[j]
                            dq[r, j] *= gr[u + j] * rm[j]
                        times_derivative(rec_act, gr, dxz[r], u, 2 * u)
                        for j in range(2 * u):
                            dr1[r, j] = dxz[r, j]
                        dhn = dh[n]
                        for j in range(u):
                            dhn[j] += dq[r, j]
                matmul_rows(dr1, u1_t, dhr)
                if need_dx:
                    matmul_rows(dxz, w_t, dxr)
                for r in range(nb):
                    n = n0 + r
                    dhn = dh[n]
                    rm = rmask[n]
                    for j in range(u):
                        dhn[j] += dhr[r, j] * rm[j]
                    if need_dx:
                        dxo = dx[n, t]
                        for j in range(d):
                            dxo[j] = dxr[r, j]
                    i = r * tblock + slot
                    for j in range(g):
                        b_x[i, j] = dxz[r, j]
                        ab[j] += dxz[r, j]
                    if keep_dz:
                        for j in range(g):
                            gates[n, t, j] = dxz[r, j]
                    for j in range(g1):
                        b_1[i, j] = dr1[r, j]
                    if reset_after:
                        for j in range(g1):
                            abr[j] += dr1[r, j]
                    else:
                        q = rec_h[n, t]
                        for j in range(u):
                            b_q[i, j] = dah[r, j]
                            a_q[i, j] = q[j]
                _gather(x, n0, t, nb, a_x[slot::tblock], 0, rmask[:0])
                _gather(hs, n0, t, nb, a_h[slot::tblock], 0, rmask)
                if slot == 0:
                    matmul_acc_tn(a_x, b_x, aw)
                    matmul_acc_tn(a_h, b_1, au1)
                    if not reset_after:
                        matmul_acc_tn(a_q, b_q, au2)
