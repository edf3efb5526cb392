"""Listed products vs sgemm by density: where sparse_rows.MAX_DENSITY / GRAD_MAX_DENSITY lie.

    python -m bench.listed_density [--repeats 200] [--mnist]

A Dense layer's training step on an input x with a fraction d of nonzeros (random positions):
the listed way (SparseRows.scan, times, weight_grad_of: x @ W and xᵀ @ dz from x's nonzeros)
against sgemm for the same two products, one thread each (training runs these products
single-threaded at these sizes). Prints the median of each and their ratio; MAX_DENSITY holds,
per output width n, a density below the crossing (ratio 1). With --mnist, the same for the
seed MLP's first Dense on real MNIST batches of 32.

Then a Dense layer's backward from an output gradient dz (m, n) with a fraction d of nonzeros:
SparseRows.backward (dw = xᵀ·dz and dx = dz·wᵀ from dz's nonzeros, dense_backward) against
gemm.matmul_pair, both on the threads the engine's policy gives them now (two on an idle
2-core machine). GRAD_MAX_DENSITY and GRAD_MIN_FMAS come from this table.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine  # noqa: F401,E402  (first: the threading policy sets its defaults)
import numpy as np  # noqa: E402

from bench.conv_modes import median_us  # noqa: E402

# (batch m, input width k, output width n) of the backward table: the seed CNN's Dense(5408 →
# 128) at batch 128, a wider one, and two below GRAD_MIN_FMAS
BACKWARD_SHAPES = [(128, 5408, 128), (128, 4096, 256), (32, 1000, 100), (7, 300, 33)]
BACKWARD_DENSITIES = [0.05, 0.1, 0.2, 0.25, 0.3, 0.4]
# (output width n, batch m, input width k): the rows of sparse_rows.MAX_DENSITY
SHAPES = [(128, 32, 784), (64, 128, 1000), (16, 32, 10_000)]
DENSITIES = [0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4]


def compare(x: np.ndarray, w: np.ndarray, dz: np.ndarray, repeats: int) -> tuple[float, float]:
    """(listed, sgemm) median µs of x @ w and xᵀ @ dz."""
    from engine.kernels import sparse_rows as S
    dw = np.empty_like(w)

    def listed():
        rows = S.SparseRows()
        found = rows.scan(x, w.shape[1], threads=1)
        if found is None:
            raise SystemExit(f"bench.listed_density: the scan gave up on density "
                             f"{np.count_nonzero(x) / x.size:.2f}; raise its limit")
        S.times(found, w)
        S.weight_grad_of(found, dz, dw)

    def dense():
        np.matmul(x, w)
        np.matmul(x.T, dz, out=dw)
    return median_us(listed, repeats), median_us(dense, repeats)


def main(argv=None) -> int:
    from engine import threading_policy as policy
    from engine.kernels import sparse_rows as S
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--mnist", action="store_true", help="also real MNIST batches of 32")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    engine_table = S.MAX_DENSITY
    S.MAX_DENSITY = tuple((n, 0.5) for n, _ in engine_table)   # let the scan list them all
    info = policy.describe()
    print(f"one thread each (numpy's BLAS on {info['blas_threads']}: {info['blas']}); "
          f"{args.repeats} repeats")
    for n, m, k in SHAPES:
        w = rng.standard_normal((k, n)).astype(np.float32)
        dz = rng.standard_normal((m, n)).astype(np.float32)
        print(f"\nn = {n}, x ({m}, {k})\n  density   listed µs   sgemm µs   listed / sgemm")
        for d in DENSITIES:
            x = rng.standard_normal((m, k)).astype(np.float32)
            x[rng.random((m, k)) >= d] = 0
            a, b = compare(x, w, dz, args.repeats)
            print(f"  {d:7.2f}   {a:9.1f}   {b:8.1f}   {a / b:14.2f}")
    if args.mnist:
        from bench.workloads.mnist_data import load_mnist
        x, _ = load_mnist(2000)
        x = x.reshape(len(x), -1)
        w = rng.standard_normal((784, 128)).astype(np.float32)
        dz = rng.standard_normal((32, 128)).astype(np.float32)
        pairs = [compare(np.ascontiguousarray(x[i:i + 32]), w, dz, 20)
                 for i in range(0, 32 * 50, 32)]
        a, b = np.median([p[0] for p in pairs]), np.median([p[1] for p in pairs])
        print(f"\nMNIST batches of 32 (50 batches, median): listed {a:.1f} µs, sgemm "
              f"{b:.1f} µs, {a / b:.2f}")
    print(f"\nMAX_DENSITY in the engine: {engine_table}")
    backward_table(rng, args.repeats)
    return 0


def backward_table(rng, repeats: int) -> None:
    from engine.kernels import sparse_rows as S
    from engine.kernels.gemm import matmul_pair
    limits = S.GRAD_MAX_DENSITY, S.GRAD_MIN_FMAS
    S.GRAD_MAX_DENSITY, S.GRAD_MIN_FMAS = 1.0, 0          # let every case take the listed way
    try:
        for m, k, n in BACKWARD_SHAPES:
            x = rng.standard_normal((m, k)).astype(np.float32)
            w = rng.standard_normal((k, n)).astype(np.float32)
            dw = np.empty((k, n), np.float32)
            print(f"\nbackward, x ({m}, {k}), dz ({m}, {n}): {m * k * n:,} multiply-adds a "
                  f"product\n  density   listed µs   sgemm µs   listed / sgemm")
            for d in BACKWARD_DENSITIES:
                dz = rng.standard_normal((m, n)).astype(np.float32)
                dz[rng.random((m, n)) >= d] = 0
                rows = S.SparseRows()
                a = median_us(lambda: rows.backward(x, w, dz, dw, True), repeats)
                b = median_us(lambda: matmul_pair(x.T, dz, dw, dz, w.T), repeats)
                print(f"  {d:7.2f}   {a:9.1f}   {b:8.1f}   {a / b:14.2f}")
    finally:
        S.GRAD_MAX_DENSITY, S.GRAD_MIN_FMAS = limits
    print(f"\nGRAD_MAX_DENSITY {limits[0]}, GRAD_MIN_FMAS {limits[1]:,} in the engine")


if __name__ == "__main__":
    raise SystemExit(main())
