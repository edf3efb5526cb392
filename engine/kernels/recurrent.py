"""The recurrent layers' time loops: shared helpers and the LSTM's fused block kernels.

lstm_forward_blocks / lstm_backward_blocks (below) and recurrent_blocks.py (SimpleRNN, GRU) do
a whole training step of a layer: per step the input and recurrent products, the fused cell,
and in backward the weight gradients in blocks of steps. Blocks of batch rows run the whole time
loop on their own; the threads take blocks from a shared counter. The loops these replaced (the
input products outside, rows split statically between threads) are kept by the tests as the
reference: tests/engine/recurrent_reference.py.

Shared arguments (N batch, T steps, u units, G = gates·u):
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


# ------------------------------------------------------------------------------ LSTM, fused
# The layer's path. Unlike the reference loops (tests/engine/recurrent_reference.py), these
# also do the input products, so that a whole training step of the layer is
# two parallel regions with no BLAS call: per step z = [x_t, h_{t-1}·rmask] @ [kernel; U] + b,
# and in backward [dx_t, dh] = dz_t @ [kernel; U]ᵀ and dW += [x_t, h_{t-1}·rmask]ᵀ·dz_t (in
# blocks of steps). Blocks of ``rows`` batch rows run the whole time loop; the threads take
# blocks from a shared counter, so a thread that the OS slows down (a busy machine) takes fewer
# blocks instead of holding the other one up.

@njit(parallel=True, **OPT)
def lstm_forward_blocks(x, wu, bias, rmask, mask, hs, cs, gates, act, rec_act, rows, counter,
                        nworkers, proj, tok):
    """x: (N, T, d) inputs; wu: (d + u, 4u) = [kernel; recurrent kernel]; bias: (4u,) (zeros
    without bias); counter: (1,) int64 zero; cs: (N, T+1, u) like hs for the carry; gates:
    (N, T, 4u) out: the activated gates i, f, c̃, o (zeros at skipped steps); other arguments
    as in the module's docstring.

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
                        # views from 0, one loop each: these vectorize (rnn_math.activate)
                        zc = zr[2 * u:3 * u]
                        for j in range(u):
                            zc[j] = fast_tanh(zc[j])
                        zo = zr[3 * u:]
                        for j in range(u):
                            zo[j] = fast_sigmoid(zo[j])
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
                    if act == TANH and rec_act == SIGMOID:    # the defaults: two passes
                        for j in range(u):     # apart: with it the loop below ran slower
                            tc[j] = fast_tanh(cn[j])
                        for j in range(u):
                            tcj = tc[j]
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
