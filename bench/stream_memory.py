"""Streaming an image folder bigger than the memory it may use: peak RSS while training on it.

    python -m bench.stream_memory [--images 20000] [--size 64] [--keep DIR]

Writes ``--images`` random RGB PNGs of size×size into two class folders (64×64×3 float32 is
48 KiB per image decoded: 20,000 images are 0.98 GB as one array), then trains a small CNN for
one epoch on ``DataSource(kind="image_folder").stream()`` and prints the process's peak resident
memory next to what loading the whole folder as float32 would take. The last line reads
``stream_memory decoded_mb=… peak_rss_mb=… images_per_s=…``.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine  # noqa: E402,F401

import numpy as np  # noqa: E402


def write_folder(root: Path, images: int, size: int) -> None:
    from PIL import Image
    rng = np.random.default_rng(0)
    for k in range(2):
        (root / f"class{k}").mkdir(parents=True, exist_ok=True)
    # a few distinct noise tiles, shifted per file, so writing 20k files stays quick
    tiles = rng.integers(0, 256, (16, size, 2 * size, 3), dtype=np.uint8)
    for i in range(images):
        tile = tiles[i % 16]
        shift = (i // 16) % size
        Image.fromarray(tile[:, shift:shift + size]).save(root / f"class{i % 2}" / f"{i}.png",
                                                          compress_level=1)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--keep", type=Path, help="reuse/keep the image folder here")
    args = ap.parse_args(argv)

    from engine.data.source import DataSource
    from engine.layers import Conv2D, Dense, GlobalAveragePooling2D, MaxPooling2D
    from engine.models import Sequential

    tmp = None
    root = args.keep
    if root is None:
        tmp = tempfile.mkdtemp(prefix="layerloom-stream-")
        root = Path(tmp)
    try:
        if not any(root.glob("class*/*.png")):
            t = time.perf_counter()
            write_folder(root, args.images, args.size)
            print(f"wrote {args.images} PNGs in {time.perf_counter() - t:.1f} s")
        files = sum(1 for _ in root.glob("class*/*.png"))
        on_disk = sum(f.stat().st_size for f in root.glob("class*/*.png")) / 2**20
        decoded = files * args.size * args.size * 3 * 4 / 2**20
        print(f"folder: {files} images, {on_disk:,.0f} MB of PNG, {decoded:,.0f} MB as float32")

        source = DataSource.from_dict({"kind": "image_folder", "path": str(root),
                                       "target_size": [args.size, args.size],
                                       "color_mode": "rgb", "scale": 1 / 255})
        data = source.stream(batch_size=args.batch_size)
        model = Sequential([Conv2D(8, 3, strides=2, activation="relu",
                                   input_shape=(args.size, args.size, 3)),
                            MaxPooling2D(2), Conv2D(16, 3, activation="relu"),
                            GlobalAveragePooling2D(), Dense(2, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        before = peak_rss_mb()
        t = time.perf_counter()
        model.fit(data.train, epochs=1, verbose=0)
        rate = data.count / (time.perf_counter() - t)
        peak = peak_rss_mb()
        print(f"peak RSS before training {before:,.0f} MB, after one epoch {peak:,.0f} MB")
        print(f"stream_memory decoded_mb={decoded:.0f} peak_rss_mb={peak:.0f} "
              f"images_per_s={rate:.0f}")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
