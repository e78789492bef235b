"""The decoded-image cache: each image decoded and resized once, then read by every method,
split and epoch from one memory-mapped file.

    <cache>/images/<resize>-<size>/pixels.u8    rows of size x size x 3 uint8 (RGB)
    <cache>/images/<resize>-<size>/index.json   image fingerprint -> row

A fingerprint is the image's absolute path, byte size and modification time
(``bench.run.feature_cache.fingerprint``): an edited image gets a new fingerprint, so only it is
decoded again (appended as a new row; the stale row is never read). The resize is PIL's
antialiased bicubic, which is what torchvision's ``Resize(BICUBIC)`` does to a PIL image, so a
cached row equals the pixels today's per-sample path produces.

Rows are appended under a file lock, the pixels before the index: a killed build leaves
unindexed bytes that the next build overwrites, never a row the index points at but that
was not written. Delete the folder to reclaim the space of stale rows.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from bench.assets import cache_dir
from bench.errors import BenchError
from bench.files import atomic_write_text, fingerprint
from bench.images import ImageReadError, load_rgb
from bench.bars import progress_bar

FORMAT = 1
RESIZE = "pil-bicubic"  # PIL's antialiased bicubic: torchvision's Resize(BICUBIC) on a PIL image
CHUNK = 16  # images per task handed to a decoding process
IN_PROCESS_BELOW = 32  # fewer images than this: decoding here beats starting processes


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def decode_resized(path: str, size: int) -> np.ndarray:
    """size x size x 3 uint8: the image as today's path resizes it."""
    from PIL import Image

    return np.asarray(Image.fromarray(load_rgb(path)).resize((size, size), Image.BICUBIC))


def _fingerprint(path: str) -> str:
    try:
        return fingerprint(path)
    except FileNotFoundError:
        raise ImageReadError(f"image not found: {path}") from None


def _decode_into(pixels_path: str, size: int, jobs: list[tuple[int, str]]) -> int:
    """Decode each (row, path) and write it into its row of the pixels file."""
    row_bytes = size * size * 3
    with open(pixels_path, "r+b") as out:
        for row, path in jobs:
            out.seek(row * row_bytes)
            out.write(decode_resized(path, size).tobytes())
    return len(jobs)


class ImageCache:
    """The cache of every image at one size; ``rows(paths)`` adds what is missing."""

    def __init__(self, size: int, directory: Path | None = None):
        if size < 1:
            raise BenchError(f"image cache size must be positive, got {size}")
        self.size = size
        self.folder = Path(directory or cache_dir() / "images") / f"{RESIZE}-{size}"
        self.pixels_path = self.folder / "pixels.u8"
        self.index_path = self.folder / "index.json"

    @property
    def row_bytes(self) -> int:
        return self.size * self.size * 3

    def rows(self, paths: list[str], workers: int | None = None, progress: bool = True) -> np.ndarray:
        """The row of each image, decoding (in parallel) the ones not cached yet."""
        keys = [_fingerprint(str(p)) for p in paths]
        index = self._read_index()
        if any(k not in index["rows"] for k in keys):
            self.folder.mkdir(parents=True, exist_ok=True)
            with self._locked():
                index = self._read_index()  # another process may have added some meanwhile
                missing = {k: str(p) for k, p in zip(keys, paths) if k not in index["rows"]}
                if missing:
                    self._append(index, missing, workers, progress)
        return np.array([index["rows"][k] for k in keys], dtype=np.int64)

    def count_missing(self, paths: list[str]) -> int:
        rows = self._read_index()["rows"]
        return sum(_fingerprint(str(p)) not in rows for p in paths)

    def pixels(self) -> np.ndarray:
        """Every indexed row, memory-mapped read-only: (n_rows, size, size, 3) uint8."""
        n = self._read_index()["n_rows"]
        if n == 0:
            return np.zeros((0, self.size, self.size, 3), np.uint8)
        return np.memmap(self.pixels_path, dtype=np.uint8, mode="r", shape=(n, self.size, self.size, 3))

    def nbytes(self) -> int:
        return self.pixels_path.stat().st_size if self.pixels_path.exists() else 0

    # ------------------------------------------------------------------ internals

    def _read_index(self) -> dict:
        empty = {"format": FORMAT, "resize": RESIZE, "size": self.size, "n_rows": 0, "rows": {}}
        if not self.index_path.exists():
            return empty
        try:
            index = json.loads(self.index_path.read_text())
        except (OSError, ValueError) as exc:
            raise BenchError(f"unreadable image cache index {self.index_path} ({exc}); delete {self.folder}") from None
        if index.get("format") != FORMAT or index.get("size") != self.size or index.get("resize") != RESIZE:
            raise BenchError(f"{self.index_path} is not an image cache of format {FORMAT} at {self.size} px "
                             f"({RESIZE}); delete {self.folder}")
        return index

    @contextlib.contextmanager
    def _locked(self):
        import fcntl

        with open(self.folder / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _append(self, index: dict, missing: dict[str, str], workers: int | None, progress: bool) -> None:
        start = index["n_rows"]
        new_rows = {key: start + i for i, key in enumerate(missing)}
        with open(self.pixels_path, "ab") as out:  # "ab" creates it; truncate cuts a killed build's bytes
            out.truncate((start + len(missing)) * self.row_bytes)
        jobs = [(new_rows[key], path) for key, path in missing.items()]
        chunks = [jobs[i:i + CHUNK] for i in range(0, len(jobs), CHUNK)]
        workers = min(workers or usable_cores(), len(chunks))
        bar = progress_bar(total=len(jobs), unit="img", disable=not progress, leave=False,
                   desc=f"image cache: decoding {len(jobs)} image(s) at {self.size} px, once")
        with bar:
            if workers <= 1 or len(jobs) < IN_PROCESS_BELOW or multiprocessing.current_process().daemon:
                for chunk in chunks:
                    bar.update(_decode_into(str(self.pixels_path), self.size, chunk))
            else:
                # fork, as torch's DataLoader: spawn would re-run a caller's unguarded script. The
                # children only decode with PIL, never touching the torch threads a fork copies.
                methods = multiprocessing.get_all_start_methods()
                context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
                with ProcessPoolExecutor(workers, mp_context=context) as pool:
                    futures = [pool.submit(_decode_into, str(self.pixels_path), self.size, c) for c in chunks]
                    for future in as_completed(futures):
                        bar.update(future.result())
        with open(self.pixels_path, "r+b") as out:
            os.fsync(out.fileno())
        index["rows"].update(new_rows)
        index["n_rows"] = start + len(missing)
        atomic_write_text(self.index_path, json.dumps(index))
