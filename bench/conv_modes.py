"""Stride-1 3×3 Conv2D (relu) + MaxPooling2D, forward and backward: planes vs im2col + sgemm.

    python -m bench.conv_modes [--batch 32] [--repeats 15] [--no-pool]

For each shape the layers run both ways, conv and pool fused as training runs them: on the
planes kernels (engine/kernels/conv_s1.py) and as im2col + sgemm by chunks of samples
(engine/kernels/conv_gemm.py, conv_gemm_pool_forward / backward); the script prints the median time
of each, their ratio and the route the engine takes. engine/layers/conv.py's IM2COL_* limits,
which pick the route, come from this table.

The tiles column: the register tiles (engine/kernels/conv_tiles.py) with the pool fused, against
the faster of the other two (TILES_MIN_POSITIONS_POOLED).

The winograd column: Winograd's F(2×2, 3×3) (engine/kernels/conv_winograd.py; the weight
gradient as im2col), against the fastest of the others (WINOGRAD_*).

--no-pool: the Conv2D alone (relu, no pool after it), on the planes, as im2col + sgemm and on the
register tiles (engine/kernels/conv_tiles.py): the table behind TILES_MIN_CHANNELS and
TILES_MIN_FILTERS.
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
          (16, 128, 128, "same"), (4, 128, 256, "same"), (8, 256, 256, "same"),
          (16, 32, 64, "same"), (8, 64, 128, "same")]


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


# engine/layers/conv.py's limits that pick a route, and their values that force each route:
# conv + pool, and the conv alone (--no-pool)
_BIG = 10 ** 9
_WINOGRAD_LIMITS = ("WINOGRAD_MIN_CHANNELS", "WINOGRAD_MIN_FILTERS", "WINOGRAD_MAX_POSITIONS",
                    "WINOGRAD_MAX_POSITIONS_DEEP")
_NO_WINOGRAD = (_BIG, _BIG, 0, 0)
_WINOGRAD = (0, 0, _BIG, _BIG)
POOLED_ROUTES = (("IM2COL_MIN_TAPS", "IM2COL_MAX_POSITIONS", "IM2COL_DEEP_TAPS",
                  "IM2COL_MAX_POSITIONS_DEEP", "TILES_MIN_CHANNELS", "TILES_MIN_FILTERS",
                  "TILES_MIN_POSITIONS_POOLED") + _WINOGRAD_LIMITS,
                 {"planes": (_BIG, 0, _BIG, 0, _BIG, _BIG, _BIG) + _NO_WINOGRAD,
                  "im2col": (0, _BIG, 0, _BIG, _BIG, _BIG, _BIG) + _NO_WINOGRAD,
                  "tiles": (_BIG, 0, _BIG, 0, 0, 0, 0) + _NO_WINOGRAD,
                  "winograd": (_BIG, 0, _BIG, 0, _BIG, _BIG, _BIG) + _WINOGRAD})
ALONE_ROUTES = (("TILES_MIN_CHANNELS", "TILES_MIN_FILTERS", "TILES_MIN_POSITIONS",
                 "IM2COL_MIN_TAPS", "IM2COL_MAX_POSITIONS", "IM2COL_MAX_POSITIONS_DEEP")
                + _WINOGRAD_LIMITS,
                {"planes": (_BIG, _BIG, _BIG, _BIG, 0, 0) + _NO_WINOGRAD,
                 "im2col": (_BIG, _BIG, _BIG, 0, _BIG, _BIG) + _NO_WINOGRAD,
                 "tiles": (0, 0, 0, _BIG, 0, 0) + _NO_WINOGRAD,
                 "winograd": (_BIG, _BIG, _BIG, _BIG, 0, 0) + _WINOGRAD})


def _conv(size: int, cin: int, filters: int, padding: str, batch: int, rng):
    """A built 3×3 relu Conv2D (input gradient wanted) and a batch of its input."""
    from engine.layers import Conv2D
    x = rng.standard_normal((batch, size, size, cin)).astype(np.float32)
    conv = Conv2D(filters, 3, activation="relu", padding=padding)
    conv.build(x.shape)
    conv.output_shape = conv.compute_output_shape(x.shape)
    conv.need_dx = True
    return x, conv


def _set_limits(conv_module, names, values):
    for name, value in zip(names, values):
        setattr(conv_module, name, value)


def _timed_routes(conv_module, routes, run, route_of, repeats: int) -> tuple[dict, str]:
    """The median µs of ``run`` with the layer forced onto each route (nan where the layer
    took another one), and the route it takes with the module's own limits (restored)."""
    names, values = routes
    saved = [getattr(conv_module, name) for name in names]
    times = {}
    try:
        for name, limits in values.items():
            _set_limits(conv_module, names, limits)
            times[name] = median_us(run, repeats)
            if route_of() != name:        # e.g. the tiles need 4k channels, few taps go direct
                times[name] = float("nan")
    finally:
        _set_limits(conv_module, names, saved)
    run()
    return times, route_of()


def main(argv=None) -> int:
    import engine.layers.conv as conv_module
    from engine.layers import MaxPooling2D
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--no-pool", action="store_true",
                    help="the convolution alone: planes, im2col and tiles")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    if args.no_pool:
        print(f"batch {args.batch}; median of {args.repeats}; µs per forward + backward, "
              f"no pool")
        print(f"{'input':>14s} {'filters':>7s} {'padding':>7s} {'planes':>8s} {'im2col':>8s} "
              f"{'tiles':>8s} {'tiles/best other':>16s} {'winograd':>8s} {'wino/best':>9s}"
              f"  route")
    else:
        print(f"batch {args.batch}; median of {args.repeats}; µs per forward + backward")
        print(f"{'input':>14s} {'filters':>7s} {'padding':>7s} {'taps':>5s} {'positions':>9s} "
              f"{'planes':>8s} {'im2col':>8s} {'ratio':>6s} {'tiles':>8s} {'tiles/best':>10s}"
              f" {'winograd':>8s} {'wino/best':>9s}  route")
    for size, cin, filters, padding in (SHAPES_NO_POOL if args.no_pool else SHAPES):
        x, conv = _conv(size, cin, filters, padding, args.batch, rng)
        oh = conv.output_shape[1]
        if args.no_pool:
            dy = rng.standard_normal((args.batch,) + tuple(conv.output_shape[1:]))
            dy = dy.astype(np.float32)
            times, chosen = _timed_routes(
                conv_module, ALONE_ROUTES,
                lambda: (conv.forward(x, training=True), conv.backward(dy)),
                lambda: conv._cache[4], args.repeats)
        else:
            pool = MaxPooling2D()
            pool.build(conv.output_shape)
            times, chosen = _timed_routes(conv_module, POOLED_ROUTES, step(conv, pool, x, rng),
                                          lambda: conv._cache[-1], args.repeats)
        tiles = times["tiles"] / min(times["planes"], times["im2col"])
        # nan-safe: a route the layer cannot take (nan) is left out of the best
        best = min(t for k, t in times.items() if k != "winograd" and t == t)
        wino = f"{times['winograd']:8.0f} {times['winograd'] / best:9.2f}"
        if args.no_pool:
            print(f"{f'{size}×{size}×{cin}':>14s} {filters:7d} {padding:>7s} "
                  f"{times['planes']:8.0f} {times['im2col']:8.0f} {times['tiles']:8.0f} "
                  f"{tiles:16.2f} {wino}  {chosen}", flush=True)
        else:
            print(f"{f'{size}×{size}×{cin}':>14s} {filters:7d} {padding:>7s} {9 * cin:5d} "
                  f"{oh * oh:9d} {times['planes']:8.0f} {times['im2col']:8.0f} "
                  f"{times['im2col'] / times['planes']:6.2f} {times['tiles']:8.0f} "
                  f"{tiles:10.2f} {wino}  {chosen}", flush=True)
    return 0


# (height = width, input channels, filters, padding) for --no-pool
SHAPES_NO_POOL = [(32, 8, 32, "same"), (32, 16, 16, "same"), (32, 16, 32, "same"),
                  (28, 32, 32, "valid"), (32, 32, 32, "same"), (32, 32, 64, "same"),
                  (16, 32, 64, "same"), (64, 32, 32, "same"), (16, 64, 64, "same"),
                  (32, 64, 64, "same"), (8, 64, 128, "same"), (8, 128, 128, "same"),
                  (32, 32, 24, "same"), (32, 3, 32, "same")]


if __name__ == "__main__":
    sys.exit(main())
