"""The CLI as a user meets it: one-line errors, non-zero exits, no tracebacks."""

import subprocess
import sys

import pandas as pd
from helpers import run_cli

from bench.testing.images import write_image_set


def _cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, **kwargs)


def _one_line_error(result, fragment):
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    assert any(fragment in line for line in lines), result.stderr


def test_unknown_method():
    _one_line_error(_cli("run", "--methods", "nope", "--dataset", "demo"), "unknown method 'nope'")


def test_unknown_dataset():
    _one_line_error(_cli("run", "--methods", "gmlf", "--dataset", "nope"), "unknown dataset 'nope'")


def test_missing_root(tmp_path):
    _one_line_error(_cli("splits", "--dataset", "rooted", "--root", str(tmp_path / "absent")), "does not exist")


def test_unreadable_image_in_score(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    _one_line_error(_cli("score", "--method", "test-lap-var", str(bad)), "cannot read image")


def test_unreadable_image_in_run(tiny_dataset, results_dir, tmp_path):
    path = tmp_path / "tiny" / tiny_dataset["image"][3]
    path.write_bytes(path.read_bytes()[:100])  # truncated
    result = _cli("run", "--methods", "test-lap-var", "--dataset", "tinyfiles", "--splits", "2",
                  "--results-dir", str(results_dir))
    # refused before any method runs, pointing to `check` (tests/test_check.py: --drop-invalid)
    _one_line_error(result, "unreadable_image 1")
    assert "ipiqa-bench check --dataset tinyfiles" in result.stderr
    assert not (results_dir / "tinyfiles" / "test-lap-var").exists()


def test_list_shows_metadata_and_assets():
    result = run_cli("list")
    assert result.exit_code == 0
    niqe = next(line for line in result.output.splitlines() if line.startswith("niqe "))
    assert "handcrafted" in niqe and "lower" in niqe and "niqe_modelparameters.mat (shipped)" in niqe
    ceiq = next(line for line in result.output.splitlines() if line.startswith("ceiq-release "))
    assert "model.mat (missing)" in ceiq


def test_score_prints_one_row_per_image(tmp_path):
    frame = write_image_set(tmp_path / "imgs", n_groups=1, per_group=3)
    result = run_cli("score", "--method", "test-lap-var", *frame["path"])
    assert result.exit_code == 0
    scores = pd.read_csv(pd.io.common.StringIO(result.output))
    assert list(scores.columns) == ["image", "score"] and len(scores) == 3


def test_score_trained_method_needs_checkpoint(tiny_dataset, results_dir, tmp_path):
    path = tiny_dataset["path"][0]
    _one_line_error(_cli("score", "--method", "test-sharpness-svr", path), "--checkpoint")
    assert run_cli("run", "--methods", "test-sharpness-svr", "--dataset", "tinyfiles", "--splits", "1",
                   "--results-dir", str(results_dir)).exit_code == 0
    checkpoint = results_dir / "tinyfiles" / "test-sharpness-svr" / "checkpoints" / "split_0.pt"
    result = run_cli("score", "--method", "test-sharpness-svr", "--checkpoint", str(checkpoint), path)
    assert result.exit_code == 0 and result.output.startswith("image,mos\n")


def test_help_for_every_command():
    for command in ("list", "splits", "run", "table", "score"):
        assert run_cli(command, "--help").exit_code == 0


def test_missing_default_root(tmp_path, monkeypatch):
    monkeypatch.delenv("IPIQA_DATA", raising=False)
    _one_line_error(_cli("run", "--dataset", "rooted", "--methods", "test-lap-var", cwd=tmp_path), "pass --root")
