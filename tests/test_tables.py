"""What a table row says about itself: its protocol, the PLCC kind, what is missing."""

import io

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli, write_manifest

from bench.registry import create_method
from bench.results.store import write_predictions
from bench.splits import SplitConfig, ensure_splits, splits_hash


def cnniqa_config(**changes):
    return {**create_method("cnniqa").get_config(), **changes}


# name -> (display, family, sign, splits done, config, config_sources, noise)
ROWS = {
    "resnet50": ("ResNet50", "deep", 1, 10,
                 cnniqa_config(epochs=2, selection="best-on-test", image_size=64, device="cpu"),
                 {"epochs": "override", "selection": "override", "image_size": "preset:demo", "device": "override"},
                 0.3),
    "cnniqa": ("CNNIQA", "deep", 1, 10, cnniqa_config(epochs=3), {"epochs": "override"}, 0.5),
    "niqe": ("NIQE", "handcrafted", -1, 3, {"device": "cpu"}, {"device": "default"}, 1.0),
}


def write_table_results(results_dir, dataset="agiqa1k", targets=("mos",), n_images=60, rows=ROWS, dropped=2):
    """A 10-split file and, per method, the split files it finished and a manifest."""
    rng = np.random.default_rng(0)
    images = pd.Series([f"im_{i:03d}.png" for i in range(n_images)])
    mos = pd.Series(rng.uniform(1, 5, n_images), index=images)
    path = ensure_splits(results_dir / dataset, images, pd.Series([str(i % 20) for i in range(n_images)]),
                         SplitConfig(10, 0, 0.2))
    splits = pd.read_csv(path, dtype=str)
    for method, (display, family, sign, done, config, sources, noise) in rows.items():
        for k in range(done):
            test = splits[splits[f"split_{k}"] == "test"]
            truth = mos[test["image"]].to_numpy()
            write_predictions(results_dir / dataset / method / f"split_{k}.csv", pd.concat([pd.DataFrame({
                "image": test["image"], "group": test["group"], "target": target, "mos": truth,
                "pred": sign * (truth + rng.normal(0, noise, len(truth)))}) for target in targets]))
        manifest = {"method": method, "display": display, "family": family, "dataset": dataset, "targets": list(targets),
                    "sign": sign, "n_splits": done, "splits_hash": splits_hash(path), "config": config,
                    "dataset_size": n_images, "dropped_rows": [{"image": f"bad{i}.png"} for i in range(dropped)],
                    "config_sources": sources}
        write_manifest(results_dir / dataset / method, manifest)


def _line(output: str, label: str) -> str:
    return next(line for line in output.splitlines() if f" {label}" in line and "|" in line or "&" in line and label in line)


def test_a_row_says_how_it_was_made_in_all_three_formats(results_dir):
    write_table_results(results_dir)
    markdown = run_cli("table", "--results-dir", str(results_dir)).output
    assert "PLCC after a 4-parameter logistic (sign kept)" in markdown and "PLCC (logistic)" in markdown
    assert "| 3/10 incomplete " in _line(markdown, "NIQE")
    assert "| 10/10 " in _line(markdown, "ResNet50 [best epoch on test set] (b)")
    notes = markdown.split("\n(")
    # the demo preset on a paper dataset: the row is kept, and said to be a miniature
    assert any(n.startswith("b) ResNet50 [best epoch on test set] — agiqa1k: epoch selection best-on-test, "
                            "miniature training (preset demo), not comparable to the paper, "
                            "overrides epochs=2; selection=best-on-test") for n in notes), markdown
    assert any(n.startswith("a) CNNIQA — agiqa1k: epoch selection final, overrides epochs=3") for n in notes)
    assert "agiqa1k: 60 images used, 2 dropped by --drop-invalid." in markdown

    latex = run_cli("table", "--results-dir", str(results_dir), "--format", "latex").output
    assert "\\usepackage{booktabs}" in latex and "\\toprule" in latex
    assert "$\\pm$" in latex and "±" not in latex
    assert "3/10 incomplete" in latex and "overrides epochs=2; selection=best-on-test" in latex
    assert "miniature training (preset demo), not comparable to the paper" in latex

    csv = pd.read_csv(io.StringIO(run_cli("table", "--results-dir", str(results_dir), "--format", "csv").output))
    rows = csv.set_index("method")
    assert (rows.loc["niqe", "n_splits"], rows.loc["niqe", "n_splits_total"]) == (3, 10)
    assert (rows.loc["resnet50", "n_splits"], rows.loc["resnet50", "n_splits_total"]) == (10, 10)
    assert rows.loc["resnet50", "label"] == "ResNet50 [best epoch on test set]"  # the test-set selection stays labelled
    assert rows.loc["resnet50", "selection"] == "best-on-test" and rows.loc["resnet50", "preset"] == "demo"
    assert rows.loc["resnet50", "overrides"] == "epochs=2; selection=best-on-test"
    assert rows.loc["resnet50", "miniature"] == "miniature training (preset demo), not comparable to the paper"
    assert pd.isna(rows.loc["cnniqa", "miniature"]) and pd.isna(rows.loc["niqe", "miniature"])
    assert rows.loc["cnniqa", "overrides"] == "epochs=3" and pd.isna(rows.loc["niqe", "overrides"])
    assert set(rows["plcc"]) == {"logistic"} and rows["rmse_mean"].notna().all()


def test_paper_compares_like_with_like(results_dir):
    write_table_results(results_dir)
    default = pd.read_csv(io.StringIO(run_cli("table", "--results-dir", str(results_dir), "--paper",
                                              "--format", "csv").output)).set_index("method")
    assert set(default["plcc"]) == {"raw"}  # the paper's kind
    assert default.loc["niqe", "delta_plcc"] == pytest.approx(default.loc["niqe", "plcc_mean"] - 0.5048, abs=1e-4)
    logistic = pd.read_csv(io.StringIO(run_cli("table", "--results-dir", str(results_dir), "--paper", "--plcc",
                                               "logistic", "--format", "csv").output)).set_index("method")
    assert logistic["delta_plcc"].isna().all() and logistic["delta_srcc"].notna().any()
    markdown = run_cli("table", "--results-dir", str(results_dir), "--paper").output
    assert "official IP-IQA code computes plain Pearson" in markdown and "PLCC (raw)" in markdown
    assert "WARNING: 60 images, the paper used 1080" in markdown


def test_what_is_missing_is_said(results_dir):
    write_table_results(results_dir, dataset="synth")
    output = run_cli("table", "--results-dir", str(results_dir), "--paper").output
    assert "The paper reports no numbers on synth: no paper columns for it." in output
    assert "| paper " not in output
    assert "Table 2 (text-to-image alignment): no rows" in output and "--methods alignment,ipiqa" in output
    assert "No results on synth for: " in output and "dbcnn" in output and "clipscore" not in output
    only = run_cli("table", "--results-dir", str(results_dir), "--methods", "niqe,ceiq").output
    assert "NIQE" in only and "ResNet50" not in only and "No results on synth for: ceiq." in only
    rmse = run_cli("table", "--results-dir", str(results_dir), "--rmse").output
    assert "RMSE (logistic)" in rmse and "RMSE (logistic)" not in output


def test_the_demo_targets_neither_table_shows_get_their_own(results_dir):
    write_table_results(results_dir, dataset="demo", targets=("mos_quality", "mos_align", "mos"),
                        rows={"niqe": ROWS["niqe"], "clipscore": ("CLIPScore", "alignment", 1, 10, {}, {}, 0.5)})
    output = run_cli("table", "--results-dir", str(results_dir)).output
    assert "demo mos_quality SRCC" in output and "demo mos_align SRCC" in output  # Tables 1 and 2
    assert "### Other targets" in output and "| NIQE – mos " in output and "| CLIPScore – mos " in output


def test_smallest_wilcoxon_p_is_what_scipy_gives():
    from scipy import stats

    from bench.report.significance import smallest_wilcoxon_p

    assert smallest_wilcoxon_p(3) == 0.25 == pytest.approx(stats.wilcoxon([0.1, 0.2, 0.3]).pvalue)
    assert smallest_wilcoxon_p(10) == pytest.approx(stats.wilcoxon(np.arange(1, 11) / 10).pvalue)


def test_only_a_preset_its_method_declares_a_miniature_is_marked_one():
    from bench.results.protocol import miniature_note

    assert miniature_note("ipiqa", "demo") == ("miniature training on the stand-in CLIP (preset demo), "
                                               "not comparable to the paper")
    assert miniature_note("clipscore", "demo") == "miniature stand-in CLIP (preset demo), not comparable to the paper"
    assert miniature_note("cnniqa-kang", "demo").startswith("miniature training (preset demo)")
    assert miniature_note("resnet50", "") == miniature_note("resnet50", "paper-like") == ""
    assert miniature_note("gmlf", "demo") == ""  # declares no miniature preset
    assert miniature_note("not-registered", "demo") == ""  # cannot be told: the preset column still names it


def test_a_plain_preset_is_named_without_the_miniature_warning(results_dir):
    rows = {"niqe": ("NIQE", "handcrafted", -1, 3, {"device": "cpu"}, {"device": "preset:fast"}, 1.0)}
    write_table_results(results_dir, rows=rows)
    markdown = run_cli("table", "--results-dir", str(results_dir)).output
    assert "agiqa1k: preset fast" in markdown and "miniature" not in markdown


def _record_epochs(results_dir, method, noises, chosen, dataset="agiqa1k"):
    """Per-epoch test records in each split's report, as a trained run writes them: the chosen
    epoch's predictions are the split file's, the others are the truth plus ``noises[e]``."""
    from bench.results.manifest import RunManifest
    from bench.results.store import read_predictions
    from bench.train.epoch_metrics import epoch_scores

    directory = results_dir / dataset / method
    manifest = RunManifest.read(directory)
    rng = np.random.default_rng(1)
    for k, record in manifest.splits.items():
        side = read_predictions(directory / f"split_{k}.csv")
        truth = side[["mos"]].to_numpy()
        epochs = []
        for e, noise in enumerate(noises):
            pred = side[["pred"]].to_numpy() if e + 1 == chosen else truth + rng.normal(0, noise, truth.shape)
            epochs.append(epoch_scores(pred, truth, ["mos"]))
        record.report = {"selection": manifest.config.get("selection"),
                         "models": {"mos": {"selected_epoch": chosen, "epoch_test": epochs}}}
    manifest.write(directory)


def test_selection_gap_puts_the_honest_choice_beside_the_best_epoch_on_test(results_dir):
    from bench.report.selection_gap import best_on_test_epoch

    write_table_results(results_dir)
    _record_epochs(results_dir, "cnniqa", noises=[2.0, 0.05, None], chosen=3)  # epoch 2 is far better on test
    result = run_cli("table", "--results-dir", str(results_dir), "--selection-gap", "--plcc", "raw",
                     "--format", "csv")
    assert result.exit_code == 0, result.output
    gap = pd.read_csv(io.StringIO(result.stdout)).set_index("method")
    table = pd.read_csv(io.StringIO(run_cli("table", "--results-dir", str(results_dir), "--plcc", "raw",
                                            "--format", "csv").stdout)).set_index("method")
    row = gap.loc["cnniqa"]
    assert row["n_splits"] == 10 and row["epochs"] == "3 / 2"
    assert row["srcc_mean"] == pytest.approx(table.loc["cnniqa", "srcc_mean"])  # the honest figure is the table's
    assert row["best_srcc_mean"] > row["srcc_mean"] + 0.1
    assert row["gap_srcc_mean"] == pytest.approx(row["best_srcc_mean"] - row["srcc_mean"], abs=1e-5)  # CSV: 6 digits
    assert row["gap_plcc_mean"] > 0 and row["plcc_kind"] == "raw"
    assert "niqe" not in gap.index  # a training-free row has no epochs to compare
    assert best_on_test_epoch([{"a": {"srcc": 0.1, "plcc_raw": 0.1, "krcc": 0.1}},
                               {"a": {"srcc": float("nan"), "plcc_raw": 0.9, "krcc": 0.9}}], ["a"]) == 0

    # a row chosen on the test set: no gap, and its label stays
    _record_epochs(results_dir, "resnet50", noises=[3.0, None, 3.0], chosen=2)
    markdown = run_cli("table", "--results-dir", str(results_dir), "--selection-gap").stdout
    line = _line(markdown, "ResNet50 [best epoch on test set]")
    assert "best-on-test" in line and "+0.0000 ± 0.0000" in line
    assert "| NIQE" not in markdown


def test_paper_shows_each_means_t_interval_and_whether_the_papers_figure_lies_in_it(results_dir):
    from scipy import stats

    write_table_results(results_dir)
    csv = pd.read_csv(io.StringIO(run_cli("table", "--results-dir", str(results_dir), "--paper",
                                          "--format", "csv").stdout)).set_index("method")
    niqe = csv.loc["niqe"]  # 3 splits; the paper's AGIQA-1k SRCC is -0.5490, compared as +0.5490
    srcc = [v for v in pd.read_csv(io.StringIO(run_cli("table", "--results-dir", str(results_dir), "--format",
                                                       "csv").stdout)).query("method == 'niqe'")["srcc_mean"]]
    low, high = stats.t.interval(0.95, 2, loc=niqe["srcc_mean"], scale=niqe["srcc_std"] / np.sqrt(3))
    assert (niqe["srcc_ci_low"], niqe["srcc_ci_high"]) == pytest.approx((low, high), abs=1e-5)
    assert niqe["paper_in_ci_srcc"] == (low <= 0.5490 <= high) and srcc == [niqe["srcc_mean"]]
    assert niqe["delta_srcc"] == pytest.approx(niqe["srcc_mean"] - 0.5490, abs=1e-5)
    assert csv.loc[["niqe", "resnet50"], "paper_in_ci_srcc"].notna().all() and "paper_in_ci_plcc" in csv
    markdown = run_cli("table", "--results-dir", str(results_dir), "--paper").stdout
    assert "paper in CI" in markdown and "not over the paper's 10" in markdown and "own 3–10 splits" in markdown
    line = _line(markdown, "NIQE")
    assert f"[{low:.4f}, {high:.4f}]" in line and ("| yes " if low <= 0.5490 <= high else "| no ") in line


def test_the_cross_fitted_plcc_kind_is_named_wherever_it_is_shown(results_dir, tmp_path):
    small = tmp_path / "small"  # 12 test images a split: too few for five folds, and said so
    write_table_results(small)
    few = pd.read_csv(io.StringIO(run_cli("table", "--results-dir", str(small), "--plcc", "logistic-cv",
                                          "--format", "csv").stdout))
    assert few["plcc_mean"].isna().all() and few["srcc_mean"].notna().all()
    from bench.results.metrics import evaluate
    assert evaluate(np.arange(12.0), np.arange(12.0), cross_fit=True)["reason"] == (
        "fewer than 20 test images for the 5-fold logistic")
    write_table_results(results_dir, n_images=200)
    csv = pd.read_csv(io.StringIO(run_cli("table", "--results-dir", str(results_dir), "--plcc", "logistic-cv",
                                          "--format", "csv").stdout)).set_index("method")
    logistic = pd.read_csv(io.StringIO(run_cli("table", "--results-dir", str(results_dir),
                                               "--format", "csv").stdout)).set_index("method")
    assert set(csv["plcc"]) == {"logistic-cv"} and csv["plcc_mean"].notna().all()
    assert (csv["plcc_mean"] != logistic["plcc_mean"]).all() and (csv["srcc_mean"] == logistic["srcc_mean"]).all()
    markdown = run_cli("table", "--results-dir", str(results_dir), "--plcc", "logistic-cv").stdout
    assert "PLCC (logistic-cv)" in markdown and "fitted out of fold (5-fold, sign kept)" in markdown
