"""Loader throughput from JPEG files vs from the decoded-image cache (the README's Speed table).

    python scripts/loader_throughput.py [--images 200] [--source-size 1024] [--size 512] [--threads 1] [--workers 0]

Writes ``--images`` generated JPEGs (q95) of ``--source-size`` px into a temporary folder, with
a temporary image cache, and reads them for two epochs after a warm-up one, batch 40: per
sample from the files (PIL decode, bicubic resize, flip, ToTensor, Normalize), then from the
cache, as the network's float input and as the loader's uint8 batches. Prints images/s and
the CPU time per image spent in this process (with workers, theirs is not counted).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image


def write_jpegs(folder: Path, n: int, size: int) -> pd.DataFrame:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import textured_image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        base = Image.fromarray(textured_image(rng, 128)).resize((size, size), Image.BICUBIC)
        pixels = np.asarray(base).astype(np.int16) + rng.integers(-12, 13, (size, size, 3))
        paths.append(str(folder / f"im{i:04d}.jpg"))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(paths[-1], quality=95)
    return pd.DataFrame({"path": paths, "prompt": ""})


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(name: str, loader, convert: bool, epochs: int = 2) -> float:
    from bench.train.loop import to_model_input

    def finish(batch):
        return to_model_input(batch, loader, "cpu", False) if convert else batch

    for batch in loader:  # warm-up: workers, page cache, memory map
        finish(batch)
    n, start, cpu = 0, time.perf_counter(), cpu_seconds()
    for _ in range(epochs):
        for batch in loader:
            n += len(finish(batch)["image"])
    wall, used = time.perf_counter() - start, cpu_seconds() - cpu
    print(f"{name:34s} {n / wall:8.1f} images/s, {1000 * used / n:6.2f} ms CPU/image here "
          f"({loader.num_workers} workers, {n} images, {wall:.1f} s)", flush=True)
    return n / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--source-size", type=int, default=1024)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--workers", type=int, default=None, help="loader workers (default: sized from the machine)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["IPIQA_BENCH_CACHE"] = str(Path(tmp) / "cache")
        import torch

        from bench.train.cached_data import CachedImageDataset, make_cached_loader
        from bench.train.image_cache import ImageCache
        from bench.train.loop import (
            IMAGENET_MEAN_STD,
            ImageDataset,
            TrainConfig,
            image_transform,
            loader_workers,
            make_loader,
        )

        if args.threads:
            torch.set_num_threads(args.threads)
        frame = write_jpegs(Path(tmp), args.images, args.source_size)
        config = TrainConfig(image_size=args.size, batch_size=40, num_workers=args.workers)
        files = make_loader(ImageDataset(frame, image_transform(config, True, IMAGENET_MEAN_STD)), 40, config, True,
                            "cpu")
        start = time.perf_counter()
        data = CachedImageDataset(frame, ImageCache(args.size), mean_std=IMAGENET_MEAN_STD)
        print(f"cache build: {len(frame)} images in {time.perf_counter() - start:.1f} s, once")
        cached = make_cached_loader(data, 40, True, True, 0, loader_workers(config, "cpu", cached=True), False)
        print(f"torch threads {torch.get_num_threads()}, {args.images} JPEGs {args.source_size} px -> {args.size} px")
        from_files = timed("from files (float input)", files, convert=True)
        as_input = timed("from the cache (float input)", cached, convert=True)
        as_uint8 = timed("from the cache (uint8 batches)", cached, convert=False)
        print(f"cache / files: {as_input / from_files:.1f}x as float input, {as_uint8 / from_files:.1f}x as batches")


if __name__ == "__main__":
    main()
