import platform

import numpy as np
import pytest

from bench.run.allocator import freed_memory_kept, keep_freed_memory

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")


@glibc_only
def test_keep_freed_memory_is_set_on_glibc():
    assert keep_freed_memory() is True
    a = np.ones((1024, 1024))  # allocation still works after the change
    assert a.sum() == 1024 * 1024


@glibc_only
def test_the_block_keeps_memory_then_puts_the_defaults_back():
    with freed_memory_kept() as kept:
        assert kept is True
        assert np.ones((2048, 2048)).sum() == 2048 * 2048
    assert np.ones((512, 512)).sum() == 512 * 512  # the defaults back, the heap trimmed


def test_a_worker_keeps_freed_memory_for_its_life(monkeypatch):
    from bench.run import allocator

    restores = []
    monkeypatch.setattr(allocator, "_KEPT_FOR_THE_PROCESS", [])
    monkeypatch.setattr(allocator, "keep_freed_memory", lambda: True)
    monkeypatch.setattr(allocator, "_libc", lambda: restores.append("defaults back") or None)
    with allocator.freed_memory_kept():
        pass
    assert restores == ["defaults back"]  # the driver puts glibc's defaults back after a chunk
    allocator.keep_freed_memory_in_this_worker()
    with allocator.freed_memory_kept():
        pass
    assert restores == ["defaults back"]  # a worker does not
