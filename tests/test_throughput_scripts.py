"""The throughput tooling: torch's huge pages asked for by ``import bench``, and the prepared
GPU script (``scripts/gpu_throughput.py``) in its CPU dry mode."""

import json
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


def test_gpu_script_dry_run_measures_and_projects(tmp_path):
    out = tmp_path / "gpu"
    result = subprocess.run([sys.executable, "scripts/gpu_throughput.py", "--dry-run", "--method", "cnniqa",
                             "--variants", "fp32", "--out", str(out)], cwd=REPO, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    names = (out / "standin" / "data.csv").read_text().splitlines()
    assert len(names) == 1 + 4 and names[1].startswith("standin_a_000.jpg,")  # (1 step + 1) x batch 2
    figures = json.loads((out / "fp32.json").read_text())
    assert figures["precision"] == "fp32" and figures["image_size"] == 64 and figures["batch_size"] == 2
    together = figures["stages"]["together"]["images_per_s"]
    hours = 10 * 100 * round(2982 * 0.8) / together / 3600
    summary = (out / "summary.md").read_text()
    assert "| fp32 " in summary and f"{hours:,.1f}" in summary
    assert "10 splits x 100 epochs x 2386 AGIQA-3k training images" in result.stdout
