"""The full-size rehearsal script (``scripts/rehearsal.py``) in a tiny mode: a few generated
images named as AGIQA-3k's, one offline and one trainable row, 2 splits, 1 training step."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
LABELS = REPO.parent / "shared" / "datasets" / "agiqa3k" / "data.csv"
sys.path.insert(0, str(REPO / "scripts"))
import rehearsal  # noqa: E402


def _labels(tmp_path) -> Path:
    """AGIQA-3k's data.csv where the shared folder has it, else rows of the same form."""
    if LABELS.is_file():
        return LABELS
    pairs = [(f"{g}_normal_{i:03d}.jpg", f"a cat, take {i}")  # one prompt per file-name index, as the loader checks
             for g in ("AttnGAN", "DALLE2", "glide", "midjourney", "sd1.5", "xl2.2") for i in range(4)]
    names, prompts = zip(*pairs)
    path = tmp_path / "data.csv"
    pd.DataFrame({"name": names, "prompt": prompts, "adj1": "", "adj2": "", "style": "",
                  "mos_quality": [i % 5 for i in range(len(names))], "std_quality": 0.5,
                  "mos_align": [(i * 3) % 5 for i in range(len(names))], "std_align": 0.5}).to_csv(path, index=False)
    return path


def test_every_generator_has_a_native_size_and_the_subset_spans_them():
    if not LABELS.is_file():
        pytest.skip("AGIQA-3k's data.csv is not in the shared folder")
    labels = pd.read_csv(LABELS, keep_default_na=False)
    assert len(labels) == 2982 and {rehearsal.generator_of(n) for n in labels["name"]} == set(rehearsal.NATIVE_SIZES)
    chosen = rehearsal.subset(labels, 12)
    assert len(chosen) == 12 and {rehearsal.generator_of(n) for n in chosen["name"]} == set(rehearsal.NATIVE_SIZES)
    assert chosen.equals(rehearsal.subset(labels, 12))


def test_tiny_rehearsal_writes_the_dataset_and_a_table_of_measured_rows(tmp_path):
    work = tmp_path / "work"
    result = subprocess.run([sys.executable, "scripts/rehearsal.py", "--work", str(work), "--labels",
                             str(_labels(tmp_path)), "--limit", "12", "--size", "48", "--splits", "2", "--steps", "1",
                             "--image-size", "32", "--rows", "ceiq,cnniqa"], cwd=REPO, capture_output=True,
                            text=True, check=False, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    labels = pd.read_csv(work / "agiqa3k" / "data.csv", keep_default_na=False)
    assert len(labels) == 12
    for name in labels["name"]:  # laid out as the loader finds the real dataset, at the forced size
        with Image.open(work / "agiqa3k" / "images" / name) as image:
            assert image.format == "JPEG" and image.size == (48, 48)
    rows = {r["row"]: r for r in json.loads((work / "rehearsal.json").read_text())["rows"]}
    assert set(rows) == {"image cache 32 px", "ceiq", "cnniqa"}
    for row in rows.values():
        assert "error" not in row, row
        for key in ("wall_s", "cpu_s", "peak_rss_mb", "results_mb", "cache_added_mb"):
            assert row[key] >= 0, (row["row"], key)
        assert row["peak_rss_mb"] > 0 and row["wall_s"] > 0
    ceiq, cnniqa = rows["ceiq"], rows["cnniqa"]
    assert ceiq["splits"] == cnniqa["splits"] == 2 and ceiq["extracted"] == 12 and ceiq["extract_s"] > 0
    assert cnniqa["steps"] == cnniqa["splits"] * cnniqa["models"]  # every training stopped after 1 step
    assert cnniqa["s_per_step"] > 0 and cnniqa["eval_s_per_image"] > 0 and cnniqa["full_cpu_h"] > 0
    # 10 splits of 2,982 images: the recipe's epochs x steps per epoch, each model
    config = rehearsal.row_config("cnniqa")
    assert cnniqa["full_steps"] == 10 * cnniqa["models"] * config["epochs"] * (2386 // config["batch_size"])
    table = (work / "rehearsal.md").read_text().splitlines()
    total = next(line for line in table if line.startswith("| total |")).split("|")
    assert float(total[4]) == pytest.approx(sum(r["cpu_s"] for r in rows.values()), abs=0.05)
    # --reproject rebuilds the same table from the folder's files, running nothing
    subprocess.run([sys.executable, "scripts/rehearsal.py", "--work", str(work), "--reproject"], cwd=REPO,
                   check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (work / "rehearsal.md").read_text().splitlines() == table
    header = next(line for line in table if line.startswith("| row |"))
    assert all(title in header for _, title in rehearsal.COLUMNS)
    assert sum(line.startswith(("| ceiq |", "| cnniqa |", "| total |")) for line in table) == 3
