"""Image augmentation kernels: a batched affine warp with nearest or bilinear sampling.

Fill modes (what a sample outside the image reads), as ``scipy.ndimage`` / Keras name them:
0 ``constant`` (``cval``), 1 ``nearest`` (aaaa|abcd|dddd), 2 ``reflect`` (dcba|abcd|dcba),
3 ``wrap`` (abcd|abcd|abcd).
"""
import numpy as np
from numba import njit, prange

from engine.kernels.parallel import fetch_add, workers_for

FILL_MODES = {"constant": 0, "nearest": 1, "reflect": 2, "wrap": 3}


@njit(cache=True, nogil=True)
def _source_index(i, n, mode):
    """The pixel index that position ``i`` of an axis of length ``n`` reads; -1 = ``cval``."""
    if 0 <= i < n:
        return i
    if mode == 0:
        return -1
    if mode == 1:
        return 0 if i < 0 else n - 1
    if mode == 2:
        period = 2 * n
        i = i % period                      # numba follows Python: the result is >= 0
        return i if i < n else period - 1 - i
    return i % n


@njit(cache=True, nogil=True, parallel=True)
def affine_warp(x, mats, order, fill_mode, cval, out, nworkers):
    """Warp every image of a batch by its own affine map.

    x: (N, H, W, C) float32 or float64; mats: (N, 2, 3) float64; out: (N, H, W, C), x's dtype.
    Output pixel (r, q) reads the input at
    ``(cr + m[0,0](r-cr) + m[0,1](q-cq) + m[0,2],  cq + m[1,0](r-cr) + m[1,1](q-cq) + m[1,2])``
    with (cr, cq) the image centre, so a map without translation keeps the centre pixel
    exactly. ``order``: 0 nearest, 1 bilinear; ``fill_mode``: see FILL_MODES.
    """
    n, h, w, c = x.shape
    cr = (h - 1) * 0.5
    cq = (w - 1) * 0.5
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            b = fetch_add(counter, 0)
            if b >= n:
                break
            m00, m01, m02 = mats[b, 0, 0], mats[b, 0, 1], mats[b, 0, 2]
            m10, m11, m12 = mats[b, 1, 0], mats[b, 1, 1], mats[b, 1, 2]
            for r in range(h):
                dr = r - cr
                for q in range(w):
                    dq = q - cq
                    sr = cr + m00 * dr + m01 * dq + m02
                    sq = cq + m10 * dr + m11 * dq + m12
                    if order == 0:
                        ir = _source_index(int(np.floor(sr + 0.5)), h, fill_mode)
                        iq = _source_index(int(np.floor(sq + 0.5)), w, fill_mode)
                        if ir < 0 or iq < 0:
                            for k in range(c):
                                out[b, r, q, k] = cval
                        else:
                            for k in range(c):
                                out[b, r, q, k] = x[b, ir, iq, k]
                        continue
                    fr0 = np.floor(sr)
                    fq0 = np.floor(sq)
                    wr = sr - fr0
                    wq = sq - fq0
                    w00 = (1.0 - wr) * (1.0 - wq)
                    w01 = (1.0 - wr) * wq
                    w10 = wr * (1.0 - wq)
                    w11 = wr * wq
                    i0 = int(fr0)
                    j0 = int(fq0)
                    if 0 <= i0 and i0 + 1 < h and 0 <= j0 and j0 + 1 < w:   # inside: no fill
                        for k in range(c):
                            out[b, r, q, k] = (w00 * x[b, i0, j0, k] + w01 * x[b, i0, j0 + 1, k] +
                                               w10 * x[b, i0 + 1, j0, k] +
                                               w11 * x[b, i0 + 1, j0 + 1, k])
                        continue
                    r0 = _source_index(int(fr0), h, fill_mode)
                    r1 = _source_index(int(fr0) + 1, h, fill_mode)
                    q0 = _source_index(int(fq0), w, fill_mode)
                    q1 = _source_index(int(fq0) + 1, w, fill_mode)
                    for k in range(c):
                        v00 = x[b, r0, q0, k] if r0 >= 0 and q0 >= 0 else cval
                        v01 = x[b, r0, q1, k] if r0 >= 0 and q1 >= 0 else cval
                        v10 = x[b, r1, q0, k] if r1 >= 0 and q0 >= 0 else cval
                        v11 = x[b, r1, q1, k] if r1 >= 0 and q1 >= 0 else cval
                        out[b, r, q, k] = w00 * v00 + w01 * v01 + w10 * v10 + w11 * v11
    return out


@njit(cache=True, nogil=True)
def _tf_coordinate(coord, n, mode):
    """TensorFlow's ``ImageProjectiveTransformV3`` fill modes (what Keras 3's augmentation
    layers use), applied to the continuous coordinate before interpolation: 1 ``nearest``
    clamps; 2 ``reflect`` mirrors about the edges (dcba|abcd|dcba); 3 ``wrap`` repeats — with
    TensorFlow's own arithmetic, kept as it is, including its quirks far outside the image;
    0 ``constant`` leaves it (the reads outside give ``cval``)."""
    if mode == 0:
        return coord
    if mode == 2 and n > 1:
        if coord < 0:
            sz2 = 2 * n
            coord = sz2 * int(-coord / sz2) + coord
            coord = coord + sz2 if coord < -n else -coord - 1
        elif coord > n - 1:
            sz2 = 2 * n
            coord -= sz2 * int(coord / sz2)
            if coord >= n:
                coord = sz2 - coord - 1
    elif mode == 3 and n > 1:
        if coord < 0:
            coord += n * (int(-coord / (n - 1)) + 1)
        elif coord > n - 1:
            coord -= n * int(coord / (n - 1))
    elif n <= 1:
        coord = 0.0
    return min(max(coord, 0.0), n - 1.0)


@njit(cache=True, nogil=True)
def _tf_round(v):
    return np.floor(v + 0.5) if v >= 0 else -np.floor(-v + 0.5)   # half away from zero


@njit(cache=True, nogil=True, inline="always")
def _tf_source(mats, b, r, q, h, w, fill_mode):
    """The source coordinate (row, column) that output pixel (r, q) of image b reads: its
    affine map about the image centre, folded into the image by the fill mode."""
    cr = (h - 1) * 0.5
    cq = (w - 1) * 0.5
    dr, dq = r - cr, q - cq
    sr = cr + mats[b, 0, 0] * dr + mats[b, 0, 1] * dq + mats[b, 0, 2]
    sq = cq + mats[b, 1, 0] * dr + mats[b, 1, 1] * dq + mats[b, 1, 2]
    return _tf_coordinate(sr, h, fill_mode), _tf_coordinate(sq, w, fill_mode)


@njit(cache=True, nogil=True, inline="always")
def _tf_image(x, mats, b, order, fill_mode, cval, out):
    """Image b of :func:`affine_transform_tf`."""
    _, h, w, c = x.shape
    for r in range(h):
        for q in range(w):
            sr, sq = _tf_source(mats, b, r, q, h, w, fill_mode)
            if order == 0:
                ir, iq = int(_tf_round(sr)), int(_tf_round(sq))
                inside = 0 <= ir < h and 0 <= iq < w
                for k in range(c):
                    out[b, r, q, k] = x[b, ir, iq, k] if inside else cval
                continue
            r0, q0 = int(np.floor(sr)), int(np.floor(sq))
            wr, wq = sr - r0, sq - q0
            for k in range(c):
                acc = 0.0
                for dr, fr in ((0, 1.0 - wr), (1, wr)):
                    for dq, fq in ((0, 1.0 - wq), (1, wq)):
                        i, j = r0 + dr, q0 + dq
                        v = x[b, i, j, k] if 0 <= i < h and 0 <= j < w else cval
                        acc += fr * fq * v
                out[b, r, q, k] = acc


@njit(cache=True, nogil=True, parallel=True)
def _affine_transform_tf_par(x, mats, order, fill_mode, cval, out, nworkers):
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            b = fetch_add(counter, 0)
            if b >= x.shape[0]:
                break
            _tf_image(x, mats, b, order, fill_mode, cval, out)


def affine_transform_tf(x, mats, order, fill_mode, cval, out):
    """Warp every image by its own affine map as TensorFlow's ``ImageProjectiveTransformV3``
    (Keras 3's ``ops.image.affine_transform``): map the source coordinate by the fill mode
    (:func:`_tf_coordinate`), then read it — nearest (rounded half away from zero) or
    bilinear, a read outside the image giving ``cval``. x, out: (N, H, W, C); mats: (N, 2, 3)
    as :func:`affine_warp`'s. Images taken from a counter by numba's threads."""
    _affine_transform_tf_par(x, mats, order, fill_mode, cval, out, workers_for(x.shape[0]))
    return out


@njit(cache=True, nogil=True, inline="always")
def _tf_image_backward(dy, mats, b, order, fill_mode, dx):
    """Image b of :func:`affine_transform_tf_backward`."""
    _, h, w, c = dy.shape
    dx[b] = 0.0
    for r in range(h):
        for q in range(w):
            sr, sq = _tf_source(mats, b, r, q, h, w, fill_mode)
            if order == 0:
                ir, iq = int(_tf_round(sr)), int(_tf_round(sq))
                if 0 <= ir < h and 0 <= iq < w:
                    for k in range(c):
                        dx[b, ir, iq, k] += dy[b, r, q, k]
                continue
            r0, q0 = int(np.floor(sr)), int(np.floor(sq))
            wr, wq = sr - r0, sq - q0
            for dr, fr in ((0, 1.0 - wr), (1, wr)):
                for dq, fq in ((0, 1.0 - wq), (1, wq)):
                    i, j = r0 + dr, q0 + dq
                    if 0 <= i < h and 0 <= j < w:
                        for k in range(c):
                            dx[b, i, j, k] += fr * fq * dy[b, r, q, k]


@njit(cache=True, nogil=True, parallel=True)
def _affine_transform_tf_backward_par(dy, mats, order, fill_mode, dx, nworkers):
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            b = fetch_add(counter, 0)
            if b >= dy.shape[0]:
                break
            _tf_image_backward(dy, mats, b, order, fill_mode, dx)


def affine_transform_tf_backward(dy, mats, order, fill_mode, dx):
    """The gradient of :func:`affine_transform_tf` w.r.t. ``x`` (the map and the fill mode's
    folding of coordinates held fixed): each output pixel's gradient goes back to the pixels
    it read, with the same weights. dy, dx: (N, H, W, C); dx is zeroed here. Images from a
    counter, one thread per image, so no two threads add into one element."""
    _affine_transform_tf_backward_par(dy, mats, order, fill_mode, dx, workers_for(dy.shape[0]))
    return dx


@njit(cache=True, nogil=True, parallel=True)
def shift_and_brighten(x, shifts, factors, do_shift, do_brightness, nworkers):
    """Keras's channel shift and brightness shift, in place, image by image.

    x: (N, H, W, C) float32 or float64; shifts, factors: (N,) float64.
    Channel shift: every value + shifts[b], clipped to the image's own [min, max].
    Brightness (Pillow's 8-bit ImageEnhance.Brightness, as Keras uses it): values are taken
    to 8-bit pixels (an image outside 0..255 is first stretched to 0..255), multiplied by
    factors[b], truncated to 0..255, and stretched back.
    """
    n, h, w, c = x.shape
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            b = fetch_add(counter, 0)
            if b >= n:
                break
            lo = x[b, 0, 0, 0]
            hi = lo
            for r in range(h):
                for q in range(w):
                    for k in range(c):
                        v = x[b, r, q, k]
                        lo = min(lo, v)
                        hi = max(hi, v)
            if do_shift:
                s = shifts[b]
                for r in range(h):
                    for q in range(w):
                        for k in range(c):
                            x[b, r, q, k] = min(max(x[b, r, q, k] + s, lo), hi)
                lo, hi = min(max(lo + s, lo), hi), min(max(hi + s, lo), hi)
            if do_brightness:
                f = factors[b]
                outside = lo < 0 or hi > 255
                span = hi - lo if hi > lo else 1.0
                for r in range(h):
                    for q in range(w):
                        for k in range(c):
                            v = np.float64(x[b, r, q, k])
                            if outside:
                                v = (v - lo) / span * 255.0
                            v = np.floor(min(max(v, 0.0), 255.0))
                            v = np.floor(min(v * f, 255.0))
                            x[b, r, q, k] = v / 255.0 * span + lo if outside else v
    return x
