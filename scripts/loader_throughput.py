"""Loader throughput from JPEG files vs from the decoded-image cache (the README's Speed table).

    python scripts/loader_throughput.py [--images 200] [--source-size 1024] [--size 512] [--threads 1] [--workers 0]
                                        [--repeats 3]

Writes ``--images`` generated JPEGs (q95) of ``--source-size`` px into a temporary folder, with
a temporary image cache, and reads them for two epochs after a warm-up one, batch 40: per
sample from the files (PIL decode, bicubic resize, flip, ToTensor, Normalize), then from the
cache, as the network's float input and as the loader's uint8 batches. Prints images/s and
the CPU time per image spent in this process (with workers, theirs is not counted), the
median of ``--repeats`` measurements, and the load average (on a shared machine, the context
the figures need).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from bench.testing.images import textured_image


def write_jpegs(folder: Path, n: int, size: int, names: list[str] | None = None) -> pd.DataFrame:
    """``n`` textured, noisy JPEGs (q95) of ``size`` px: as costly to decode as photographs."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        base = Image.fromarray(textured_image(rng, 128)).resize((size, size), Image.BICUBIC)
        pixels = np.asarray(base).astype(np.int16) + rng.integers(-12, 13, (size, size, 3))
        paths.append(str(folder / (names[i] if names else f"im{i:04d}.jpg")))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(paths[-1], quality=95)
    return pd.DataFrame({"path": paths, "prompt": ""})


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(name: str, loader, convert: bool, repeats: int, epochs: int = 2) -> float:
    """The median images/s of ``repeats`` measurements of ``epochs`` epochs each."""
    from bench.train.loop import to_model_input

    def finish(batch):
        return to_model_input(batch, loader, "cpu", False) if convert else batch

    for batch in loader:  # warm-up: workers, page cache, memory map
        finish(batch)
    rates, cpu_ms = [], []
    for _ in range(repeats):
        n, start, cpu = 0, time.perf_counter(), cpu_seconds()
        for _ in range(epochs):
            for batch in loader:
                n += len(finish(batch)["image"])
        wall, used = time.perf_counter() - start, cpu_seconds() - cpu
        rates.append(n / wall)
        cpu_ms.append(1000 * used / n)
    print(f"{name:34s} {statistics.median(rates):8.1f} images/s, {statistics.median(cpu_ms):6.2f} ms CPU/image "
          f"here (median of {repeats}: {' '.join(f'{r:.1f}' for r in rates)}; {loader.num_workers} workers, "
          f"{n} images each; load {load()})", flush=True)
    return statistics.median(rates)


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--source-size", type=int, default=1024)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--workers", type=int, default=None, help="loader workers (default: sized from the machine)")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per loader (the median is printed)")
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
        print(f"torch threads {torch.get_num_threads()}, {args.images} JPEGs {args.source_size} px -> {args.size} px, "
              f"load {load()}")
        from_files = timed("from files (float input)", files, convert=True, repeats=args.repeats)
        as_input = timed("from the cache (float input)", cached, convert=True, repeats=args.repeats)
        as_uint8 = timed("from the cache (uint8 batches)", cached, convert=False, repeats=args.repeats)
        print(f"cache / files: {as_input / from_files:.1f}x as float input, {as_uint8 / from_files:.1f}x as batches")


if __name__ == "__main__":
    main()
