"""Epoch state: an interrupted training resumes from its last finished epoch, not from zero.

``train_model`` saves, after every epoch, all that the next epoch depends on: the model,
optimiser, schedule and gradient-scaler states, every random generator (torch, CUDA, numpy,
Python, the loader's sampler), the epoch, the losses and the best-epoch selection so far.
The file holds tensors and plain values only (read back with ``weights_only=True``), has a
sha256 sidecar as split checkpoints do, and carries the identity key of the training it
belongs to (method, config, stage, target group, the exact training and selection rows): a
file with another key is removed, never resumed.

Where: ``<results>/<dataset>/<method>/.epoch-state/split_<k>/``, set by the runner around a
split's ``fit`` (``epoch_states``). The leading dot keeps it out of every reader; the runner
deletes a split's folder once the split's files are written. Without a folder (a method fitted
outside ``run``) nothing is saved.

Resumed predictions equal an uninterrupted run's bit for bit on the CPU when the training
loader has no worker processes (the CPU default for the image cache); random augmentations
drawn inside loader workers restart from a fresh worker seed, so there the continuation is
equally valid but not identical.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import io
import json
import logging
import random
import re
from pathlib import Path

import numpy as np

from bench.assets.safe_load import load_torch
from bench.errors import BenchError
from bench.results.checkpoints import recorded_sha256, sidecar_path, write_checkpoint

log = logging.getLogger("ipiqa_bench")

STATE_DIR = ".epoch-state"
FORMAT = 1
_folder: contextvars.ContextVar[Path | None] = contextvars.ContextVar("epoch_state_folder", default=None)


def split_state_dir(method_dir: Path, split: int) -> Path:
    return Path(method_dir) / STATE_DIR / f"split_{split}"


@contextlib.contextmanager
def epoch_states(folder: str | Path | None):
    """Trainings inside this block save and resume their epoch state under ``folder``."""
    token = _folder.set(Path(folder) if folder else None)
    try:
        yield
    finally:
        _folder.reset(token)


def state_for(name: str, identity: dict) -> "EpochState | None":
    """The epoch state of the training ``name`` (e.g. target group and stage) in the current
    folder, bound to ``identity``; None outside ``epoch_states``."""
    folder = _folder.get()
    if folder is None:
        return None
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    text = json.dumps({"format": FORMAT, **identity}, sort_keys=True, default=str)
    return EpochState(folder / f"{safe}.pt", hashlib.sha256(text.encode()).hexdigest())


def rows_digest(frame, columns: list[str]) -> str:
    """sha256 of the rows a training sees (identity of its data)."""
    data = frame[[c for c in columns if c in frame.columns]].to_csv(index=False, float_format="%.17g")
    return hashlib.sha256(data.encode()).hexdigest()


class EpochState:
    def __init__(self, path: Path, key: str):
        self.path, self.key = Path(path), key

    def load(self) -> dict | None:
        """The saved state, or None (none saved, damaged, or made by another training: removed)."""
        if not self.path.exists():
            return None
        problem = None
        try:
            data = self.path.read_bytes()
            if hashlib.sha256(data).hexdigest() != recorded_sha256(self.path):  # no sidecar: not resumed
                problem = "it does not match its checksum"
            else:
                saved = load_torch(data, f"epoch state {self.path}")
                if not isinstance(saved, dict) or saved.get("format") != FORMAT:
                    problem = "its format is not this version's"
                elif saved.get("key") != self.key:
                    problem = "it was made under a different config or data"
        except (OSError, BenchError) as exc:
            problem = str(exc)
        if problem:
            log.info("%s: not resumed (%s); removed, training starts at epoch 1", self.path, problem)
            self.discard()
            return None
        return saved

    def save(self, state: dict) -> None:
        import torch

        buffer = io.BytesIO()
        torch.save({"format": FORMAT, "key": self.key, **state}, buffer)
        write_checkpoint(self.path, buffer.getvalue())  # atomic, sidecar last

    def discard(self) -> None:
        sidecar_path(self.path).unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- random generators


def generators_of(loader) -> list:
    """The torch generators a loader draws its order, augmentations and worker seeds from."""
    found = []
    for g in (getattr(loader, "generator", None), getattr(getattr(loader, "sampler", None), "generator", None)):
        if g is not None and all(g is not f for f in found):
            found.append(g)
    return found


def rng_state(generators: list) -> dict:
    """Every random state the loop depends on, as tensors and plain values."""
    import torch

    keys, pos, has_gauss, gauss = np.random.get_state()[1:]
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else [],
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                  "gauss": float(gauss)},
        "python": {"version": version, "internal": torch.tensor(internal, dtype=torch.int64), "gauss": gauss_next},
        "generators": [g.get_state() for g in generators],
    }


def set_rng_state(state: dict, generators: list) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["internal"].tolist()), p["gauss"]))
    if len(state["generators"]) != len(generators):
        raise BenchError("epoch state: the loader's random generators do not match the saved ones")
    for g, saved in zip(generators, state["generators"]):
        g.set_state(saved)
