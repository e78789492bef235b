"""Keep freed memory in the process for reuse (glibc), for work on image-sized arrays.

By default glibc hands a freed block of a few MB back to the kernel, and the next array of
that size faults in fresh zeroed pages. On the shared VMs measured that cost 2.5 µs a page:
an 8 MB float64 map of a 1024-px image cost ~5 ms before any arithmetic, and the feature
extractors make dozens of them per image (docs/speed.md). Raising the thresholds keeps the
freed blocks in the heap, where the next array reuses them. The blocks stay in the process
while it extracts (its resident memory does not fall between images, and a heap holding
blocks up to 32 MB can fragment). A pool worker, which only extracts, keeps them until it
exits; in the driver (``--jobs 1``) glibc's defaults are put back and the heap trimmed after
each chunk, so what runs next there (training, the next row) is unaffected.
"""
from __future__ import annotations

import ctypes
import sys
from contextlib import contextmanager

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's ceiling on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX)
_GLIBC_DEFAULT = 128 * 1024  # both thresholds' defaults (DEFAULT_MMAP_THRESHOLD_MIN)


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt, libc.malloc_trim  # noqa: B018  (glibc has both; e.g. musl has no mallopt)
    except (OSError, AttributeError):
        return None
    return libc


_KEPT_FOR_THE_PROCESS = []  # a feature worker process keeps freed memory until it exits


def keep_freed_memory() -> bool:
    """Set glibc's allocator to keep freed blocks up to 32 MB; False where it is not glibc."""
    libc = _libc()
    return libc is not None and bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)) \
        and bool(libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30))


def keep_freed_memory_in_this_worker() -> None:
    """For a process that only extracts features (a pool worker): keep freed memory for its
    life, so that no chunk starts on fresh pages."""
    if keep_freed_memory():
        _KEPT_FOR_THE_PROCESS.append(True)


@contextmanager
def freed_memory_kept():
    """keep_freed_memory() for the block; then glibc's default thresholds (fixed, no longer
    adaptive) and the heap trimmed, unless the process keeps freed memory for its life."""
    kept = keep_freed_memory()
    try:
        yield kept
    finally:
        libc = _libc() if kept and not _KEPT_FOR_THE_PROCESS else None
        if libc is not None:
            libc.mallopt(_M_MMAP_THRESHOLD, _GLIBC_DEFAULT)
            libc.mallopt(_M_TRIM_THRESHOLD, _GLIBC_DEFAULT)
            libc.malloc_trim(0)
