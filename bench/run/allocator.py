"""Keep freed memory in the process for reuse (glibc), for work on image-sized arrays.

By default glibc hands a freed block of a few MB back to the kernel, and the next array of
that size faults in fresh zeroed pages. On the shared VMs measured that cost 2.5 µs a page:
an 8 MB float64 map of a 1024-px image cost ~5 ms before any arithmetic, and the feature
extractors make dozens of them per image (docs/speed.md). Raising the thresholds keeps the
freed blocks in the heap, where the next array reuses them. Peak memory is unchanged;
memory is just not returned between images.
"""
from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's ceiling on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX)


def keep_freed_memory() -> bool:
    """Set glibc's allocator to keep freed blocks up to 32 MB; False where it is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # another C library (e.g. musl has no mallopt)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30))
