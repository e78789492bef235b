"""`score --pairs`: one row per (image, prompt) pair, bad rows reported by CSV line and marked,
trained rows scored from their results folder (--from)."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli

from bench import api
from bench.errors import BenchError
from bench.testing.images import write_image_set


def _pairs(tmp_path, n=6, missing=3):
    """A pairs.csv beside a folder of images (paths relative to the CSV), row ``missing`` absent."""
    frame = write_image_set(tmp_path / "pairs" / "imgs", n_groups=1, per_group=n)
    rows = pd.DataFrame({"image": [f"imgs/{name}" for name in frame["image"]], "prompt": frame["prompt"],
                         "source": [f"s{i}" for i in range(n)]})
    rows.loc[missing, "image"] = "imgs/absent.png"
    rows.to_csv(tmp_path / "pairs" / "pairs.csv", index=False)
    return tmp_path / "pairs" / "pairs.csv", frame


def test_missing_image_reported_by_line_others_scored(tmp_path):
    pairs, frame = _pairs(tmp_path)
    out = tmp_path / "scores.csv"
    result = subprocess.run([sys.executable, "-m", "bench", "score", "--method", "test-lap-var", "--pairs", str(pairs),
                             "--out", str(out)], capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{pairs}: line 5: image not found" in result.stderr  # row 3 (0-based) is line 5: header is line 1
    scores = pd.read_csv(out, keep_default_na=False)
    assert list(scores.columns) == ["image", "prompt", "source", "score", "error"] and len(scores) == 6
    assert scores.loc[3, "score"] == "" and "image not found" in scores.loc[3, "error"]
    good = scores.drop(index=3)
    assert (good["error"] == "").all() and list(good["source"]) == ["s0", "s1", "s2", "s4", "s5"]
    expected = api.score("test-lap-var", [p for i, p in enumerate(frame["path"]) if i != 3])["score"]
    np.testing.assert_allclose(good["score"].astype(float), expected)


def test_unreadable_file_and_per_image_prompts(tmp_path):
    pairs, frame = _pairs(tmp_path, missing=0)
    (tmp_path / "pairs" / "imgs" / frame["image"][1]).write_bytes(b"not an image")
    scored = api.score("test-lap-var", pairs=pairs)
    assert [line for line, _ in scored.failures] == [2, 3]
    assert "cannot read image" in scored.frame.loc[1, "error"] and scored.frame["score"].notna().sum() == 4
    one_each = api.score("test-prompt-length", list(frame["path"][2:4]), prompts=["a", "bcd"])
    assert list(one_each["prompt"]) == ["a", "bcd"] and list(one_each["score"]) == [1, 3]
    with pytest.raises(BenchError, match="one prompt per image"):
        api.score("test-lap-var", list(frame["path"][2:4]), prompts=["a"])


def test_empty_prompt_for_a_prompt_aware_method(tmp_path):
    pairs, _ = _pairs(tmp_path, missing=0)
    rows = pd.read_csv(pairs)
    rows.loc[2, "prompt"] = ""
    rows.to_csv(pairs, index=False)
    scored = api.score("test-prompt-length", pairs=pairs)
    assert [line for line, _ in scored.failures] == [2, 4] and "empty prompt" in scored.frame.loc[2, "error"]
    assert scored.frame.loc[1, "score"] == len(rows.loc[1, "prompt"])


def test_trained_row_from_its_results_folder(tiny_dataset, results_dir, tmp_path):
    assert run_cli("run", "--methods", "test-sharpness-svr", "--dataset", "tinyfiles", "--splits", "3",
                   "--results-dir", str(results_dir)).exit_code == 0
    row = results_dir / "tinyfiles" / "test-sharpness-svr"
    pairs, _ = _pairs(tmp_path, missing=5)
    every = api.score(None, pairs=pairs, from_dir=row)
    assert list(every.frame.columns) == ["image", "prompt", "source", "mos", "mos_std", "error"]
    assert [line for line, _ in every.failures] == [7]
    each = [api.score(None, pairs=pairs, from_dir=row, split=k).frame["mos"] for k in range(3)]
    np.testing.assert_allclose(every.frame["mos"], np.mean(each, axis=0))
    np.testing.assert_allclose(every.frame["mos_std"], np.std(each, axis=0, ddof=1))
    assert every.frame["mos_std"].iloc[:5].gt(0).all()  # three SVRs fitted on different splits differ
    result = run_cli("score", "--from", str(row), "--split", "1", "--pairs", str(pairs))
    assert result.exit_code == 1
    assert pd.read_csv(pd.io.common.StringIO(result.stdout))["mos"].iloc[:5].tolist() == \
        pytest.approx(each[1].iloc[:5].tolist())
    with pytest.raises(BenchError, match="no checkpoint of split 7"):
        api.score(None, pairs=pairs, from_dir=row, split=7)
