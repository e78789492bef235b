"""The runner's per-image feature cache.

One file per (dataset, extractor, version): ``<results>/<dataset>/.cache/features/
<key>-v<version>.npz`` mapping image fingerprints to feature rows. A fingerprint is the
image's absolute path, size and modification time (plus the prompt for prompt-aware
extractors), so an edited or replaced image is recomputed and nothing stale is reused. Each row is stored
with a digest of its key and values, so rows shuffled or edited in the file are dropped
(and recomputed), never used for another image.
"""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from pathlib import Path

import numpy as np

from bench.files import atomic_write_bytes

log = logging.getLogger("ipiqa_bench")




class FeatureCache:
    def __init__(self, directory: Path, key: str, version: str):
        self.path = Path(directory) / f"{key}-v{version}.npz"
        self._rows: dict[str, np.ndarray] = {}
        self._dirty = False
        if self.path.exists():
            self._rows = self._read()

    def _read(self) -> dict[str, np.ndarray]:
        try:
            with np.load(self.path, allow_pickle=False) as data:
                keys, features = data["keys"].tolist(), np.asarray(data["features"], dtype=float)
                digests = data["digests"].tolist()
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            return self._discard(f"unreadable ({type(exc).__name__})")
        if len(keys) != len(features) or len(digests) != len(keys):
            return self._discard("keys and feature rows do not pair up")
        rows = dict(zip(keys, features))
        bad = [k for k, d in zip(keys, digests) if _digest(k, rows[k]) != d]
        if bad:
            log.warning("%s: %d row(s) do not match their keys (shuffled or edited); recomputing them",
                        self.path, len(bad))
            self._dirty = True
        return {k: v for k, v in rows.items() if k not in set(bad)}

    def _discard(self, why: str) -> dict:
        log.warning("%s: %s; recomputing every feature", self.path, why)
        self._dirty = True  # overwritten at the next save
        return {}

    def missing(self, keys: list[str]) -> list[int]:
        """Positions of the keys not cached yet."""
        return [i for i, key in enumerate(keys) if key not in self._rows]

    def add(self, keys: list[str], features: np.ndarray) -> None:
        self._rows.update(zip(keys, np.asarray(features, dtype=float)))
        self._dirty = True

    def save(self) -> None:
        """Write the cache if anything was added since it was read."""
        if not self._dirty or not self._rows:
            return
        keys = sorted(self._rows)
        buffer = io.BytesIO()
        np.savez(buffer, keys=np.array(keys), features=np.stack([self._rows[k] for k in keys]),
                 digests=np.array([_digest(k, self._rows[k]) for k in keys]))
        atomic_write_bytes(self.path, buffer.getvalue())
        self._dirty = False

    def matrix(self, keys: list[str]) -> np.ndarray:
        return np.stack([self._rows[key] for key in keys])


def _digest(key: str, row: np.ndarray) -> str:
    return hashlib.sha256(key.encode() + np.ascontiguousarray(row, dtype="<f8").tobytes()).hexdigest()[:16]
