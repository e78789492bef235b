"""One writer per dataset results folder: an OS lock on ``<results>/<dataset>/.lock``.

``run`` and ``splits`` hold it while they write the splits file and the method folders, so
two runs into one folder cannot overwrite each other's splits file or interleave split
files. The kernel drops the lock when its process dies (even by kill -9): the lock file left
behind means nothing, and is never rewritten (an identical rerun changes no file). Readers (``table``, ``report``) take no lock: they check every split
file against its manifest record instead.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from bench.errors import BenchError

LOCK_FILE = ".lock"
WAIT_S = 10.0  # a second run waits this long for the first to finish, then refuses

_held: dict[Path, int] = {}  # folder -> depth, so that one process may nest the lock
_guard = threading.Lock()


@contextmanager
def dataset_lock(dataset_dir: Path, wait_s: float | None = None):
    folder = Path(dataset_dir).resolve()
    with _guard:
        if folder in _held:
            _held[folder] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _guard:
                _held[folder] -= 1
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise BenchError(f"cannot write results in {folder}: {exc.strerror}; use another --results-dir") from None
    try:
        _acquire(fd, folder, WAIT_S if wait_s is None else wait_s)
        with _guard:
            _held[folder] = 1
        try:
            yield
        finally:
            with _guard:
                del _held[folder]
    finally:
        os.close(fd)  # closing releases the lock


def _acquire(fd: int, folder: Path, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise BenchError(f"{folder} is being written by another run (it holds {folder / LOCK_FILE}); "
                                 "wait for it to finish, or use another --results-dir") from None
            time.sleep(0.2)
