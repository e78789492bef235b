"""The runner's per-image feature cache.

One file per (dataset, extractor, version): ``<results>/<dataset>/.cache/features/
<key>-v<version>.npz`` mapping image fingerprints to feature rows. A fingerprint is the
image's absolute path, size and modification time (plus the prompt for prompt-aware
extractors), so an edited or replaced image is recomputed and nothing stale is reused.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np

from bench.store import atomic_write_bytes


def fingerprint(path: str, prompt: str | None = None) -> str:
    stat = os.stat(path)
    text = f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}"
    if prompt is not None:
        text += "|" + prompt
    return hashlib.sha1(text.encode()).hexdigest()


class FeatureCache:
    def __init__(self, directory: Path, key: str, version: str):
        self.path = Path(directory) / f"{key}-v{version}.npz"
        self._rows: dict[str, np.ndarray] = {}
        self._dirty = False
        if self.path.exists():
            with np.load(self.path) as data:
                self._rows = dict(zip(data["keys"].tolist(), data["features"]))

    def missing(self, keys: list[str]) -> list[int]:
        """Positions of the keys not cached yet."""
        return [i for i, key in enumerate(keys) if key not in self._rows]

    def add(self, keys: list[str], features: np.ndarray) -> None:
        self._rows.update(zip(keys, np.asarray(features, dtype=float)))
        self._dirty = True

    def save(self) -> None:
        """Write the cache if anything was added since it was read."""
        if not self._dirty:
            return
        keys = sorted(self._rows)
        buffer = io.BytesIO()
        np.savez(buffer, keys=np.array(keys), features=np.stack([self._rows[k] for k in keys]))
        atomic_write_bytes(self.path, buffer.getvalue())
        self._dirty = False

    def matrix(self, keys: list[str]) -> np.ndarray:
        return np.stack([self._rows[key] for key in keys])
