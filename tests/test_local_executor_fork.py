"""--jobs N forks worker processes for training-free work; after the driver has trained a
network, torch's OpenMP threads are up and a forked worker's first parallel op used to hang
(the README's first command stopped at CLIPScore on the stand-in, after ResNet50 trained)."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import sys
    import torch
    sys.path.insert(0, sys.argv[1])
    from bench.run.executors import LocalExecutor

    def work(n):
        x = torch.randn(400, 400)
        return float((x @ x).sum() * 0 + n)

    if __name__ == "__main__":
        torch.set_num_threads(2)
        a = torch.randn(600, 600)
        (a @ a).sum()  # the driver's OpenMP team is running
        print(sorted(r for _, r in LocalExecutor(2).map(work, [(i,) for i in range(4)], kind="features")))
""")


def test_forked_workers_compute_with_torch_after_the_driver_did(tmp_path):
    script = tmp_path / "fork_after_torch.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(ROOT)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[0.0, 1.0, 2.0, 3.0]"
