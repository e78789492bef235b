"""The throughput tooling: torch's huge pages asked for by ``import bench``."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def _python(code: str, **env) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**environ, **env}, capture_output=True,
                            text=True, check=True)
    return result.stdout.strip()


def test_import_bench_asks_torch_for_huge_pages_unless_told_not_to():
    read = "import os, bench; print(os.environ.get('THP_MEM_ALLOC_ENABLE'))"
    assert _python(read) == "1"
    assert _python(read, THP_MEM_ALLOC_ENABLE="0") == "0"


@pytest.mark.skipif(not THP.exists() or "[never]" in THP.read_text(), reason="no transparent huge pages here")
def test_huge_pages_cut_the_page_faults_of_a_fresh_batch():
    # What made converting a cached 512-px batch cost 2 ms per image: a fresh 126 MB float buffer
    # touched 4 kB at a time. Values are the same either way.
    count = ("import bench, resource, torch\n"
             "x = torch.empty((40, 3, 512, 512)); before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
             "x.fill_(1.0); print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)")
    with_huge_pages, without = int(_python(count)), int(_python(count, THP_MEM_ALLOC_ENABLE="0"))
    assert without > 20_000 and with_huge_pages < without / 4

