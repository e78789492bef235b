"""`table --ablation` (Table 3): rows matched to the paper's by the manifest's flags."""

import json

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli, write_manifest

from bench.results.store import write_predictions
from bench.splits import splits_hash

# method -> (image2prompt, use_prompt, prompt_mode), in no particular order
ROWS = {
    "ipiqa": (True, True, "qa_token"),
    "ipiqa-base": (False, False, "qa_token"),
    "ipiqa-i2p-prompt": (True, True, "frozen"),
    "ipiqa-prompt": (False, True, "frozen"),
    "ipiqa-i2p": (True, False, "qa_token"),
    "ipiqa-code": (True, True, "code"),
}
DATASETS = {"agiqa1k": ["mos"], "agiqa3k": ["mos_quality", "mos_align"]}


def write_results(root, skill: dict[str, float]):
    """Split files whose predictions correlate with the MOS as much as `skill` says."""
    rng = np.random.default_rng(0)
    for dataset, targets in DATASETS.items():
        base = root / dataset
        base.mkdir(parents=True)
        images = [f"img{i:03d}.png" for i in range(60)]
        (base / "splits.csv").write_text(pd.DataFrame(
            {"image": images, "group": [str(i // 3) for i in range(60)],
             "split_0": ["test" if i < 20 else "train" for i in range(60)]}).to_csv(index=False))
        for method, (i2p, prompt, mode) in ROWS.items():
            parts = []
            for target in targets:
                mos = rng.normal(size=20)
                pred = skill[method] * mos + rng.normal(size=20)
                parts.append(pd.DataFrame({"image": images[:20], "group": "g", "target": target, "mos": mos,
                                           "pred": pred}))
            write_predictions(base / method / "split_0.csv", pd.concat(parts))
            write_manifest(base / method, {
                "method": method, "display": method, "family": "ipiqa", "n_splits": 1, "sign": 1,
                "splits_hash": splits_hash(base / "splits.csv"), "plcc_mapping": "none",
                "config": {"image2prompt": i2p, "use_prompt": prompt, "prompt_mode": mode, "epochs": 2},
                "config_sources": {"epochs": "override"}})
    # a non-ablation method beside them is left out of Table 3
    write_predictions(root / "agiqa1k" / "other" / "split_0.csv", parts[0].assign(target="mos"))
    write_manifest(root / "agiqa1k" / "other", {
        "method": "other", "family": "deep", "n_splits": 1, "sign": 1, "config": {"epochs": 2}, "plcc_mapping": "none",
        "splits_hash": splits_hash(root / "agiqa1k" / "splits.csv")})


def test_ablation_rows_and_paper_numbers(results_dir):
    skill = {"ipiqa-base": 0.5, "ipiqa-i2p": 1, "ipiqa-prompt": 2, "ipiqa-i2p-prompt": 3, "ipiqa": 5, "ipiqa-code": 4}
    write_results(results_dir, skill)
    result = run_cli("table", "--ablation", "--format", "csv", "--results-dir", str(results_dir))
    assert result.exit_code == 0, result.output
    from io import StringIO

    table = pd.read_csv(StringIO(result.stdout))
    assert "other" not in set(table["method"])
    blocks = table.groupby(["dataset", "target"], sort=False)
    assert list(blocks.groups) == [("agiqa1k", "mos"), ("agiqa3k", "mos_quality"), ("agiqa3k", "mos_align")]
    order = ["ipiqa-base", "ipiqa-i2p", "ipiqa-prompt", "ipiqa-i2p-prompt", "ipiqa", "ipiqa-code"]
    for _, block in blocks:
        assert list(block["method"]) == order
        assert list(block["row"].fillna(0).astype(int)) == [1, 2, 3, 4, 5, 0]  # the code variant is no row
    paper = pd.read_csv("bench/data/paper_ablation.csv")
    quality = table[table["target"] == "mos_quality"].set_index("method")
    assert quality.loc["ipiqa-i2p-prompt", "paper_srcc"] == paper.query("row == 4 and dataset == 'agiqa3k'")["srcc"].item()
    assert quality.loc["ipiqa", "delta_plcc"] == pytest.approx(quality.loc["ipiqa", "plcc_mean"] - 0.9116, abs=1e-5)
    assert table[table["target"] == "mos_align"]["paper_srcc"].isna().all()  # the paper has no such ablation
    assert quality.loc["ipiqa", "srcc_mean"] > quality.loc["ipiqa-base", "srcc_mean"]
    assert set(table["plcc"]) == {"raw"} and set(table["n_splits_total"]) == {1}  # the paper's kind; each row's splits
    assert quality.loc["ipiqa", "overrides"] == "epochs=2"
    logistic = pd.read_csv(StringIO(run_cli("table", "--ablation", "--plcc", "logistic", "--format", "csv",
                                            "--results-dir", str(results_dir)).stdout))
    assert set(logistic["plcc"]) == {"logistic"} and logistic["delta_plcc"].isna().all()  # no unlike Δ

    markdown = run_cli("table", "--ablation", "--results-dir", str(results_dir)).stdout
    assert "Table 3: ablation on perceptual quality, agiqa3k mos_quality" in markdown
    assert "Table 3: ablation on alignment, agiqa3k mos_align" in markdown
    line = next(l for l in markdown.splitlines() if "| ipiqa-prompt " in l)
    assert "✓" in line and "0.8317" in line  # flags and the paper's AGIQA-1k row 3


def test_ablation_without_results_is_a_clear_error(results_dir):
    write_results(results_dir, dict.fromkeys(ROWS, 1.0))
    for method in ROWS:
        for dataset in DATASETS:
            manifest = results_dir / dataset / method / "run.json"
            data = json.loads(manifest.read_text())
            data["config"] = {"epochs": 2}
            manifest.write_text(json.dumps(data))
    result = run_cli("table", "--ablation", "--results-dir", str(results_dir))
    assert result.exit_code != 0 and "no IP-IQA ablation results" in result.stderr
