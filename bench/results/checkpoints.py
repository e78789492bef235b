"""Split checkpoints written by ``run`` and read back by ``score --checkpoint``.

Each ``split_<k>.pt`` gets a ``split_<k>.pt.sha256`` sidecar (``sha256sum`` format), checked
before the file is handed to a method: a damaged or swapped checkpoint is named, not
loaded. (Safety does not rest on it: every method reads its checkpoint without pickle.)
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from bench.errors import BenchError
from bench.files import atomic_write_bytes, atomic_write_text

log = logging.getLogger("ipiqa_bench")
SIDECAR_SUFFIX = ".sha256"


def sidecar_path(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + SIDECAR_SUFFIX)


def write_checkpoint(path: Path, data: bytes) -> None:
    """The old sidecar goes, then the checkpoint, then its new sidecar: a kill in between
    leaves a checkpoint without a sidecar, never one whose sidecar vouches for another."""
    sidecar_path(path).unlink(missing_ok=True)
    atomic_write_bytes(path, data)
    atomic_write_text(sidecar_path(path), f"{hashlib.sha256(data).hexdigest()}  {Path(path).name}\n")


def read_checkpoint(path: Path) -> bytes:
    """The checkpoint's bytes, verified against its sidecar when it has one."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BenchError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    expected = recorded_sha256(path)
    if expected is None:
        log.warning("%s has no %s sidecar: its integrity is not checked", path, sidecar_path(path).name)
        return data
    if hashlib.sha256(data).hexdigest() != expected:
        raise BenchError(f"checkpoint {path} does not match its checksum in {sidecar_path(path).name}: it was "
                         "changed or damaged; rerun `ipiqa-bench run --force` for that method to write it again")
    return data


def recorded_sha256(path: Path) -> str | None:
    """The sha256 that ``path``'s sidecar records ("" if the sidecar is empty), None without one."""
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        return None
    return (sidecar.read_text(errors="replace").split(maxsplit=1) or [""])[0]
