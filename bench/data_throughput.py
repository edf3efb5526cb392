"""Image augmentation throughput: ImageDataGenerator with every option on.

    python -m bench.data_throughput [--batch-size 32] [--images 8192] [--repeats 5]

Prints images/s (median of the repeats, after a warm-up that compiles the kernels) for MNIST-
sized 28×28×1 and CIFAR-sized 32×32×3 batches drawn through ``flow`` (what ``model.fit`` sees),
and the same from ``flow_from_directory`` on PNG files (decoding included). Augmentation must
stay well above the seed CNN's training speed (a few thousand samples/s) so it never limits it.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from engine.preprocessing.image import ImageDataGenerator  # noqa: E402

ALL_OPTIONS = dict(rotation_range=15, width_shift_range=0.1, height_shift_range=0.1,
                   shear_range=10, zoom_range=0.1, horizontal_flip=True, vertical_flip=True,
                   fill_mode="reflect", channel_shift_range=10.0, brightness_range=(0.8, 1.2),
                   rescale=1 / 255, samplewise_center=True, samplewise_std_normalization=True)


def images_per_second(iterator, batches: int, repeats: int) -> float:
    iterator[0]                                   # warm-up: compile, first decode
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        seen = 0
        for i in range(batches):
            seen += len(iterator[i % len(iterator)][0])
        rates.append(seen / (time.perf_counter() - start))
    return statistics.median(rates)


def array_rate(shape: tuple, batch_size: int, n: int, repeats: int) -> float:
    x = np.random.default_rng(0).integers(0, 256, (n,) + shape).astype(np.float32)
    y = np.arange(n) % 10
    it = ImageDataGenerator(**ALL_OPTIONS).flow(x, y, batch_size=batch_size, seed=0)
    return images_per_second(it, len(it), repeats)


def directory_rate(shape: tuple, batch_size: int, n: int, repeats: int) -> float:
    from PIL import Image
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as root:
        for k in range(2):
            folder = Path(root) / f"class{k}"
            folder.mkdir()
            for i in range(n // 2):
                pixels = rng.integers(0, 256, shape, dtype=np.uint8)
                Image.fromarray(pixels[..., 0] if shape[2] == 1 else pixels).save(
                    folder / f"{i}.png")
        mode = "grayscale" if shape[2] == 1 else "rgb"
        it = ImageDataGenerator(**ALL_OPTIONS).flow_from_directory(
            root, target_size=shape[:2], color_mode=mode, batch_size=batch_size, seed=0)
        return images_per_second(it, len(it), repeats)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--images", type=int, default=8192)
    ap.add_argument("--files", type=int, default=1024, help="PNG files for flow_from_directory")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus, "
          f"batch size {args.batch_size}, all augmentation options on")
    for shape in ((28, 28, 1), (32, 32, 3)):
        size = "x".join(map(str, shape))
        rate = array_rate(shape, args.batch_size, args.images, args.repeats)
        print(f"  flow                {size:8s} {rate:10,.0f} images/s")
        rate = directory_rate(shape, args.batch_size, args.files, args.repeats)
        print(f"  flow_from_directory {size:8s} {rate:10,.0f} images/s (PNG decoding included)")


if __name__ == "__main__":
    main()
