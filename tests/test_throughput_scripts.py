"""The prepared GPU throughput script (``scripts/gpu_throughput.py``) in its CPU dry mode."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


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
