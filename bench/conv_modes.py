"""Stride-1 3×3 Conv2D (relu) + MaxPooling2D, forward and backward: planes vs im2col + sgemm.

    python -m bench.conv_modes [--batch 32] [--repeats 15]

For each shape the layers run both ways, conv and pool fused as training runs them: on the
planes kernels (engine/kernels/conv_s1.py) and as im2col + sgemm by chunks of samples
(engine/kernels/conv_gemm.py, conv_gemm_pool_forward / backward); the script prints the median time
of each, their ratio and the route the engine takes. engine/layers/conv.py's IM2COL_* limits,
which pick the route, come from this table.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine  # noqa: F401,E402  (first: the threading policy sets its defaults)
import numpy as np  # noqa: E402

# (height = width, input channels, filters, padding)
SHAPES = [(28, 8, 16, "valid"), (15, 16, 32, "valid"), (32, 16, 32, "same"),
          (8, 32, 32, "same"), (10, 32, 64, "valid"), (15, 32, 64, "valid"),
          (22, 32, 64, "valid"), (26, 32, 64, "valid"), (32, 32, 32, "same"),
          (64, 32, 32, "same"), (74, 32, 64, "valid"), (8, 64, 64, "same"),
          (13, 64, 128, "valid"), (16, 64, 64, "same"), (24, 64, 64, "valid"),
          (32, 64, 64, "same"), (48, 64, 64, "same"), (8, 128, 128, "same"),
          (16, 128, 128, "same"), (4, 128, 256, "same"), (8, 256, 256, "same")]


def median_us(fn, repeats: int) -> float:
    fn()
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1e6


def step(conv, pool, x, rng):
    """One forward + backward of conv → pool as training runs them (fused when it fuses)."""
    if conv.fuse_next(pool):
        out = conv.forward_fused(x, pool)
        dy = rng.standard_normal(out.shape).astype(np.float32)
        return lambda: (conv.forward_fused(x, pool), conv.backward(dy))
    out = pool.forward(conv.forward(x, training=True), training=True)
    dy = rng.standard_normal(out.shape).astype(np.float32)

    def run():
        pool.forward(conv.forward(x, training=True), training=True)
        conv.backward(pool.backward(dy))
    return run


def main(argv=None) -> int:
    import engine.layers.conv as conv_module
    from engine.layers import Conv2D, MaxPooling2D
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    names = ("IM2COL_MIN_TAPS", "IM2COL_MAX_POSITIONS", "IM2COL_DEEP_TAPS",
             "IM2COL_MAX_POSITIONS_DEEP")
    saved = [getattr(conv_module, name) for name in names]

    def route(limits):
        for name, value in zip(names, limits):
            setattr(conv_module, name, value)
    print(f"batch {args.batch}; median of {args.repeats}; µs per forward + backward")
    print(f"{'input':>14s} {'filters':>7s} {'padding':>7s} {'taps':>5s} {'positions':>9s} "
          f"{'planes':>8s} {'im2col':>8s} {'ratio':>6s}  route")
    try:
        for size, cin, filters, padding in SHAPES:
            x = rng.standard_normal((args.batch, size, size, cin)).astype(np.float32)
            conv = Conv2D(filters, 3, activation="relu", padding=padding)
            conv.build(x.shape)
            conv.output_shape = conv.compute_output_shape(x.shape)
            conv.need_dx = True
            pool = MaxPooling2D()
            pool.build(conv.output_shape)
            times = {}
            for name, limits in (("planes", (10 ** 9, 0, 10 ** 9, 0)),
                                 ("im2col", (0, 10 ** 9, 0, 10 ** 9))):
                route(limits)
                times[name] = median_us(step(conv, pool, x, rng), args.repeats)
            route(saved)
            oh = conv.output_shape[1]
            chosen = "im2col" if conv._im2col_wins(cin, oh, oh) else "planes"
            print(f"{f'{size}×{size}×{cin}':>14s} {filters:7d} {padding:>7s} {9 * cin:5d} "
                  f"{oh * oh:9d} {times['planes']:8.0f} {times['im2col']:8.0f} "
                  f"{times['im2col'] / times['planes']:6.2f}  {chosen}", flush=True)
    finally:
        route(saved)
    return 0


if __name__ == "__main__":
    sys.exit(main())
