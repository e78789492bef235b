"""`ipiqa-bench report` and `table --ci` on result folders built directly in the results layout."""

import io
import json
import sys

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli, write_manifest
from PIL import Image
from scipy import stats

from bench.report import tables
from bench.report.build import render_table3
from bench.results.loading import load_results, split_metrics
from bench.results.store import write_predictions
from bench.files import atomic_write_text
from bench.splits import SplitConfig, make_splits, splits_hash

N_SPLITS = 10
ABLATION_METHODS = ("ipiqa-base", "ipiqa-i2p", "ipiqa-prompt", "ipiqa-i2p-prompt", "ipiqa")  # paper order


def write_results(results_dir, methods: dict, dataset="synth", n_images=100, seed=0):
    """A dataset's splits file and, per method, split files and a manifest.

    ``methods``: name -> (family, sign, predict(mos, rng) -> pred)."""
    rng = np.random.default_rng(seed)
    images = pd.Series([f"im_{i:03d}.png" for i in range(n_images)])
    groups = pd.Series([str(i % 25) for i in range(n_images)])
    mos = pd.Series(rng.uniform(1, 5, n_images), index=images)
    splits = make_splits(images, groups, SplitConfig(N_SPLITS, 0, 0.2))
    base = results_dir / dataset
    atomic_write_text(base / "splits.csv", splits.to_csv(index=False, lineterminator="\n"))
    for name, (family, sign, predict) in methods.items():
        pred = pd.Series(predict(mos.to_numpy(), rng), index=images)
        for k in range(N_SPLITS):
            test = splits[splits[f"split_{k}"] == "test"]
            write_predictions(base / name / f"split_{k}.csv", pd.DataFrame({
                "image": test["image"], "group": test["group"], "target": "mos",
                "mos": mos[test["image"]].to_numpy(), "pred": pred[test["image"]].to_numpy()}))
        write_manifest(base / name, {"method": name, "display": name.upper(), "family": family, "dataset": dataset,
                                     "sign": sign, "n_splits": N_SPLITS, "test_size": 0.2, "plcc_mapping": "logistic",
                                     "splits_hash": splits_hash(base / "splits.csv"), "config": {}})
    return base


def good(mos, rng):
    return mos + rng.normal(0, 0.2, len(mos))


METHODS = {
    "good": ("svr", 1, good),
    "weak": ("svr", 1, lambda mos, rng: mos + rng.normal(0, 3.0, len(mos))),
    "lower-better": ("handcrafted", -1, lambda mos, rng: -mos + rng.normal(0, 1.0, len(mos))),
}


@pytest.fixture
def demo_results(results_dir):
    # "good-copy" scores exactly like "good": the same draw of the same generator.
    methods = {**METHODS, "good-copy": ("svr", 1, lambda mos, rng: good(mos, np.random.default_rng(7)))}
    methods["good"] = ("svr", 1, lambda mos, rng: good(mos, np.random.default_rng(7)))
    return write_results(results_dir, methods)


def test_report_folder_and_significance(demo_results, results_dir, tmp_path):
    out = tmp_path / "report"
    result = run_cli("report", "--results-dir", str(results_dir), "--out", str(out), "--resamples", "200")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out / "report.md")
    text = (out / "report.md").read_text()
    pngs = sorted((out / "figures").glob("*.png"))
    scatters = {f"synth_{m}_mos_scatter.png" for m in ("good", "good-copy", "weak", "lower-better")}
    assert {p.name for p in pngs} == {*scatters, "synth_mos_srcc_per_split.png", "synth_mos_significance.png"}
    for png in pngs:
        assert f"](figures/{png.name})" in text
        with Image.open(png) as image:  # about one 3.5 in column at 300 dpi
            assert 700 < image.width < 1400 and image.height > 300
    assert "Table 1: perceptual quality" in text and "paper" in text and "Refused" not in text
    assert "with 10 splits the smallest attainable p is 2/2^10 = 0.00195" in text
    assert "PLCC = plain Pearson (raw)" in text and "| 10/10 " in text  # the paper's kind; each row's splits
    assert "Splits — synth splits: " in text  # the protocol of the tables' splits (bench/splits/protocols.py)

    per_split = split_metrics(load_results(results_dir)).pivot(index="split", columns="method", values="srcc")
    pairs = pd.read_csv(out / "significance.csv").set_index(["method_a", "method_b"])
    assert len(pairs) == 6  # every pair of 4 methods
    same = pairs.loc[[i for i in pairs.index if set(i) == {"good", "good-copy"}][0]]
    assert same["wilcoxon_p"] == 1.0 and same["delta_srcc"] == 0 and same["ci_low"] == same["ci_high"] == 0
    assert (per_split["good"] > per_split["weak"]).all(), "constructed to be better on every split"
    better = pairs.loc[("good", "weak")] if ("good", "weak") in pairs.index else pairs.loc[("good-copy", "weak")]
    assert better["wilcoxon_p"] == pytest.approx(2 / 1024)
    assert better["delta_srcc"] == pytest.approx((per_split["good"] - per_split["weak"]).mean(), abs=1e-6)
    assert 0 < better["ci_low"] < better["delta_srcc"] < better["ci_high"]
    assert pairs["n_splits"].eq(N_SPLITS).all()

    tex = (out / "tables" / "synth_mos_significance.tex").read_text()
    table1 = (out / "tables" / "table1.tex").read_text()
    assert r"\toprule" in tex and r"$\Delta$" in tex and "Δ" not in tex
    assert r"$\pm$" in table1 and "±" not in table1 and "booktabs" in table1

    (out / "figures" / "stale.png").write_bytes(b"x")  # a rerun replaces the folder whole
    assert run_cli("report", "--results-dir", str(results_dir), "--out", str(out), "--resamples", "50").exit_code == 0
    assert not (out / "figures" / "stale.png").exists()


def test_refusals_are_reported_not_compared(results_dir, tmp_path):
    base = write_results(results_dir, METHODS)
    manifest = json.loads((base / "weak" / "run.json").read_text())
    write_manifest(base / "weak", {**manifest, "splits_hash": "0" * 64})  # made on another splits file
    frame = pd.read_csv(base / "good" / "split_3.csv")
    write_predictions(base / "good" / "split_3.csv", frame.iloc[1:])  # one test image fewer
    write_manifest(base / "good", json.loads((base / "good" / "run.json").read_text()))  # ...and recorded so
    out = tmp_path / "report"
    result = run_cli("report", "--results-dir", str(results_dir), "--out", str(out), "--resamples", "50")
    assert result.exit_code == 0, result.output
    refusals = [line for line in result.stderr.splitlines() if "refused" in line]
    assert len(refusals) == 2, result.stderr
    assert any("weak" in line and "different splits file" in line for line in refusals)
    assert any("good vs lower-better" in line and "different test images in split 3" in line for line in refusals)
    text = (out / "report.md").read_text()
    assert "## Refused" in text and "different splits file" in text and "different test images in split 3" in text
    assert pd.read_csv(out / "significance.csv").empty


def test_out_folder_that_is_not_a_report_is_refused(results_dir, tmp_path):
    write_results(results_dir, {"good": METHODS["good"]})
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep me")
    result = run_cli("report", "--results-dir", str(results_dir), "--out", str(tmp_path / "mine"))
    assert result.exit_code == 2 and "is not a report folder" in result.stderr
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "keep me"


def test_missing_matplotlib_is_a_one_line_error(results_dir, tmp_path, monkeypatch):
    write_results(results_dir, {"good": METHODS["good"]})
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    result = run_cli("report", "--results-dir", str(results_dir), "--out", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert result.stderr.strip() == "ipiqa-bench: error: figures need matplotlib: pip install 'ipiqa-bench[report]'"
    assert not (tmp_path / "r").exists()


def test_table_ci_prints_t_intervals(results_dir):
    write_results(results_dir, {"good": METHODS["good"], "weak": METHODS["weak"]})
    result = run_cli("table", "--results-dir", str(results_dir), "--format", "csv", "--ci")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout)).set_index("method")
    srcc = split_metrics(load_results(results_dir)).query("method == 'weak'")["srcc"]
    expected = stats.t.interval(0.95, len(srcc) - 1, loc=srcc.mean(), scale=stats.sem(srcc))
    got = table.loc["weak", "srcc_ci_low"], table.loc["weak", "srcc_ci_high"]
    assert got == pytest.approx(expected, abs=1e-5)  # the csv keeps 6 significant digits
    markdown = run_cli("table", "--results-dir", str(results_dir), "--ci").stdout
    assert "95% t-interval" in markdown and f"[{expected[0]:.4f}, {expected[1]:.4f}]" in markdown


def test_table3_hook_shows_ablation_rows_in_the_paper_order(results_dir):
    base = write_results(results_dir, {m: ("ipiqa", 1, METHODS["good"][2]) for m in ABLATION_METHODS})
    # The paper's rows: Image2Prompt, integral prompt, [QA] token, found by these manifest flags.
    flags = [(False, False, "frozen"), (True, False, "frozen"), (False, True, "frozen"), (True, True, "frozen"),
             (True, True, "qa_token")]
    for method, (i2p, prompt, mode) in zip(ABLATION_METHODS, flags):
        manifest = json.loads((base / method / "run.json").read_text())
        write_manifest(base / method, {**manifest, "display": method,
                                       "config": {"image2prompt": i2p, "use_prompt": prompt, "prompt_mode": mode}})
    results = load_results(results_dir)
    summary = tables.summarise_splits(split_metrics(results))
    text = render_table3(results, summary, "markdown", paper=True)
    assert text.startswith("### Table 3")
    positions = [text.index(f" {m} ") for m in ABLATION_METHODS]
    assert positions == sorted(positions)
    assert render_table3(results, summary[summary["method"] == "nothing"], "markdown") == ""


def test_report_has_the_selection_gap_and_the_reproduction_ledger(results_dir, tmp_path):
    from test_tables import _record_epochs, write_table_results

    from bench.report.ledger import render_ledger, reproduction_reports

    write_table_results(results_dir)
    _record_epochs(results_dir, "cnniqa", noises=[2.0, 0.05, None], chosen=3)
    result = run_cli("report", "--results-dir", str(results_dir), "--out", str(tmp_path / "r"), "--resamples", "20")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "r" / "report.md").read_text()
    assert "## Selection gap" in text and "figures/selection_gap.png" in text
    assert (tmp_path / "r" / "figures" / "selection_gap.png").stat().st_size > 0
    gap_section = text.split("\n## Selection gap\n")[1].split("\n## ")[0]
    gap_line = next(line for line in gap_section.splitlines() if line.startswith("| agiqa1k") and "CNNIQA" in line)
    assert "| final " in gap_line and "3 / 2" in gap_line and "NIQE" not in gap_section  # trained rows only
    assert "## Reproduction ledger" in text and "not over the paper's 10" in text
    ledger = text.split("\n## Reproduction ledger\n")[1]
    ledger_line = next(line for line in ledger.splitlines() if "| NIQE " in line)
    assert "0.5490" in ledger_line and ("| yes " in ledger_line or "| no " in ledger_line)
    # every shipped report names its thread; one about a row is listed under that row
    reports = reproduction_reports()
    assert reports["url"].str.startswith("https://github.com/").all() and reports["reported"].notna().all()
    assert "[Coobiw/IP-IQA#2](https://github.com/Coobiw/IP-IQA/issues/2)" in text  # not a row here: listed apart
    from bench.report.significance import confidence_intervals
    from bench.report.summary import summary_of

    summary, found, _ = summary_of(results_dir, plcc="raw")
    ledger_rows = confidence_intervals(tables.with_paper(summary, {r.method: r.manifest.sign for r in found}))
    mine = pd.DataFrame([{"method": "NIQE", "dataset": "agiqa1k", "target": "mos", "source": "x/y#1",
                          "url": "https://github.com/x/y/issues/1", "reported": "SRCC 0.1", "says": "low"}])
    listed = render_ledger(ledger_rows, mine)
    assert "- **NIQE** on agiqa1k `mos` — [x/y#1](https://github.com/x/y/issues/1): SRCC 0.1. low" in listed
    assert "not rows here" not in listed
