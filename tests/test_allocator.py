import platform

import numpy as np
import pytest

from bench.run.allocator import keep_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_keep_freed_memory_is_set_on_glibc():
    assert keep_freed_memory() is True
    a = np.ones((1024, 1024))  # allocation still works after the change
    assert a.sum() == 1024 * 1024
