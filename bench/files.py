"""Files written whole and read back verified: the bottom of the house, used by every layer.

Writes go to a temporary file beside the target and are renamed into place, so a killed
process never leaves half a file; ``fingerprint`` names an image file's identity (path,
size, modification time), so caches recompute an edited or replaced image.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: never a half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _complete_temporary(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def create_exclusively(path: Path, data: bytes) -> bool:
    """Write ``path`` whole, only if it does not exist yet (a hard link fails if it does).
    False if another writer created it first."""
    tmp = _complete_temporary(Path(path), data)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


def _complete_temporary(path: Path, data: bytes) -> str:
    """``data`` in a new temporary file beside ``path``, flushed to disk."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o644)  # mkstemp makes owner-only files; results are meant to be shared
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_temporary(path: Path) -> bool:
    """A file ``atomic_write_bytes`` had not renamed into place yet."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files a killed writer left under ``folder``. Only call it while
    holding the folder's lock: then no live writer owns them."""
    stale = [p for p in Path(folder).rglob(".*.tmp") if p.is_file() and is_temporary(p)]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in blocks."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def fingerprint(path: str, prompt: str | None = None) -> str:
    """An image file's identity: absolute path, size and modification time (and the prompt,
    for prompt-aware features)."""
    stat = os.stat(path)
    text = f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}"
    if prompt is not None:
        text += "|" + prompt
    return hashlib.sha1(text.encode()).hexdigest()
