"""How the handcrafted extractors compile their loops (numba).

``error_model="numpy"``: a float division by zero gives inf/NaN, as numpy's arrays do, with
no per-element check (the check alone keeps loops from vectorising: 6x slower). No
``fastmath`` and no ``parallel``: float operations stay in the order written, which is what
keeps the values equal to the array code they replace, and one process uses one core.
``cache=True`` keeps the compiled code beside the modules, so a worker compiles once.
"""
import hashlib
from itertools import chain
from pathlib import Path

import numba


def _drop_stale_cache() -> None:
    """numba renews a module's cache when that module's file changes, not when a kernel it calls
    from another module does: after a ``git pull`` that changed _filters.py but not gmlf.py,
    gmlf would keep its old copy of the filter. So this folder's whole cache goes whenever any
    of its sources changed."""
    here = Path(__file__).parent
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(here.glob("*.py")))).hexdigest()
    cache = here / "__pycache__"
    stamp = cache / "numba-sources.sha256"
    try:
        if stamp.read_text() == digest:
            return
    except OSError:
        pass
    try:
        for stale in chain(cache.glob("*.nbi"), cache.glob("*.nbc")):
            stale.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest)
    except OSError:  # a read-only install: numba caches elsewhere, and an upgrade replaces every file
        pass


_drop_stale_cache()
compiled = numba.njit(cache=True, nogil=True, error_model="numpy")
