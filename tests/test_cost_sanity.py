"""Cost on every row (run.json's ``cost`` and ``machine``, the plan's estimate from a declared
reference cost, ``table --cost``) and the sanity panel (bench/run/sanity.py)."""

import json
import os
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli
from plugin_fixtures import LaplacianVariance

from bench import api
from bench.report.cost import cost_frame
from bench.results.completion import checkpoint_path
from bench.results.cost import machine, row_cost
from bench.results.manifest import RunManifest, SplitRecord
from bench.run.progress import RunProgress, reference_estimate
from bench.run.runner import worker_threads
from bench.run.sanity import compare, panel_heading, render_panel

LAP = "test-lap-var"


def test_row_cost_reads_seconds_per_image_training_and_peaks_from_the_manifest():
    manifest = RunManifest(method="test-sharpness-svr", device="cpu", config={"image_size": 64},
                           features={"computed": 40, "seconds": 2.0})
    manifest.splits = {0: SplitRecord(fit_s=3.0, predict_s=0.1, n_test=8, peak={"peak_rss_mb": 120.0}),
                       1: SplitRecord(fit_s=5.0, predict_s=0.1, n_test=8, peak={"peak_rss_mb": 90.0})}
    cost = row_cost(manifest, {"peak_rss_mb": 100.0})
    assert cost["seconds_per_image"] == 0.05 and cost["measured_on"] == "features"
    assert cost["train_s_per_split"] == 4.0 and "train_s_per_epoch" not in cost  # an SVR reports no epochs
    assert cost["peak_rss_mb"] == 120.0 and cost["image_size"] == 64 and cost["device"] == "cpu"
    assert cost["threads"]["cpu_count"] >= 1
    # Trained per epoch: seconds over the epochs its report lists; prediction timed when no features.
    manifest = RunManifest(method="resnet50", splits={0: SplitRecord(fit_s=6.0, predict_s=1.0, n_test=10,
                                                                     report={"epoch_loss": [1.0, 0.5, 0.2]})})
    cost = row_cost(manifest)
    assert cost["seconds_per_image"] == 0.1 and cost["measured_on"] == "prediction"
    assert cost["train_s_per_epoch"] == 2.0


def test_a_row_on_features_another_row_extracted_costs_that_extraction_per_image():
    extractor = RunManifest(method="niqe", feature_version="niqe/2", features={"key": "niqe", "version": "2"},
                            cost={"seconds_per_image": 0.1, "measured_on": "features"})
    # the SVR found every feature in the shared cache: its own run timed only the regressor
    svr = RunManifest(method="niqe-svr", feature_version="niqe/2", cost={"seconds_per_image": 1e-5,
                                                                        "measured_on": "prediction"})
    net = RunManifest(method="cnniqa", cost={"seconds_per_image": 0.02, "measured_on": "prediction"})
    elsewhere = RunManifest(method="niqe-svr", feature_version="niqe/2", cost={"seconds_per_image": 1e-5,
                                                                              "measured_on": "prediction"})
    rows = [SimpleNamespace(dataset=d, method=m.method, manifest=m)
            for d, m in (("demo", svr), ("demo", extractor), ("demo", net), ("other", elsewhere))]
    frame = cost_frame(rows).set_index(["dataset", "method"])
    assert frame.loc[("demo", "niqe-svr"), "seconds_per_image"] == 0.1
    assert frame.loc[("demo", "niqe-svr"), "measured_on"] == "features (niqe)"
    assert frame.loc[("demo", "niqe"), "measured_on"] == "features"
    assert frame.loc[("demo", "cnniqa"), "seconds_per_image"] == 0.02  # no features: its prediction
    assert frame.loc[("other", "niqe-svr"), "seconds_per_image"] == 1e-5  # no extractor row on that dataset


def test_a_run_records_cost_and_machine_and_the_table_shows_them(tiny_dataset, results_dir):
    api.run(LAP, "tinyfiles", splits=2, results_dir=results_dir, summary=False)
    data = json.loads((results_dir / "tinyfiles" / LAP / "run.json").read_text())
    assert data["cost"]["seconds_per_image"] > 0 and data["cost"]["peak_rss_mb"] > 0
    assert "train_s_per_split" not in data["cost"]  # training-free
    assert {"cpu", "isa", "threads", "blas"} <= set(data["machine"])
    assert data["splits"]["0"]["peak"]["peak_rss_mb"] > 0
    table = run_cli("table", "--results-dir", str(results_dir), "--cost")
    assert table.exit_code == 0, table.stderr
    assert "s/image" in table.stdout and "peak MB" in table.stdout
    assert f"{data['cost']['seconds_per_image']:.3g}" in table.stdout


def test_the_machine_record_names_each_blas_library_and_torchs_own_kernels():
    import torch  # noqa: F401  (machine() describes torch only where the process loaded it)

    facts = machine()
    for library in facts["blas"]:  # numpy and scipy each ship an OpenBLAS: the record says whose
        assert "/" in library["library"] and library["library"].split("/")[-1].startswith("lib"), library
    # torch links MKL statically, so threadpoolctl misses it: its own build says what computes
    assert facts["torch"]["cpu_capability"] and facts["torch"]["blas"] and facts["torch"]["interop_threads"] >= 1


def test_features_computed_by_pool_workers_record_the_workers_threads(tiny_dataset, results_dir, tmp_path,
                                                                     monkeypatch):
    # each worker's first image waits until the other worker has one too: on a loaded machine
    # one worker could otherwise take all three chunks before the other starts
    meeting = tmp_path / "workers"
    meeting.mkdir()
    monkeypatch.setenv("TEST_WORKER_MEETING", str(meeting))
    api.run(LAP, "tinyfiles", splits=2, jobs=2, results_dir=results_dir, summary=False)
    features = json.loads((results_dir / "tinyfiles" / LAP / "run.json").read_text())["features"]
    workers = {int(p.name) for p in meeting.iterdir()}  # the processes that computed
    assert len(workers) == 2 and os.getpid() not in workers
    # 40 images in chunks of 16 over two workers; each worker computes with one torch thread
    # where the driver had loaded torch, whatever the driver's own count
    assert features["processes"] == len(workers) and {"openblas", "mkl", "blis", "flexiblas"} & set(features["threads"])
    if "torch" in features["threads"]:
        assert features["threads"]["torch"] == 1
    assert worker_threads({1: {"torch": 1}, 2: {"torch": 1}}) == {"processes": 2, "threads": {"torch": 1}}
    assert worker_threads({1: {"torch": 2}, 2: {"torch": 1}})["threads"] == [{"torch": 1}, {"torch": 2}]


def test_the_first_plan_estimates_from_a_declared_reference_cost(tiny_dataset, results_dir, monkeypatch):
    reference = {"seconds_per_image": 0.5, "machine": "a test box", "image_size": 64}
    monkeypatch.setattr(LaplacianVariance, "reference_cost", reference, raising=False)
    result = run_cli("run", "--methods", LAP, "--dataset", "tinyfiles", "--splits", "2",
                     "--results-dir", str(results_dir))
    assert result.exit_code == 0, result.stderr
    # 40 images of 64x64 at 0.5 s each, extracted once: 20 s, before anything has run.
    assert f"{LAP}: 2 of 2 split(s) to run; estimate 0m20s (reference 0.5 s/image at 64 px on a test box" in result.stderr
    assert "estimate unknown" not in result.stderr


def test_reference_estimates_scale_with_pixels_and_the_time_left_uses_measured_splits():
    reference = {"seconds_per_image": 0.1, "image_size": 100}
    features = reference_estimate(reference, n_extract=10, n_test=4, pixels=200 * 100, features=True)
    assert features.features_s == 2.0 and features.total(3) == 2.0
    predicts = reference_estimate(reference, n_extract=10, n_test=4, pixels=None, features=False)
    assert predicts.total(3) == 3 * 0.4 + 0.0 and predicts.features_s == 0.0
    assert reference_estimate(None, 10, 4, None, True) is None

    class Plan:  # what RunProgress reads of a runner's plan
        def __init__(self, name, todo, estimate):
            self.info, self.todo, self.estimate, self.runnable = type("I", (), {"name": name}), todo, estimate, True

    progress = RunProgress([Plan("a", [0, 1, 2], predicts), Plan("b", [0, 1], features)])
    progress.bar.disable = True
    assert np.isclose(progress.seconds_left(0.0), 3 * 0.4 + 2.0)
    progress.done, progress.left["a"][0] = 1, 2
    progress.left["a"][3].append(5.0)  # a's first split took 5 s: its remaining two are 10 s now
    assert np.isclose(progress.seconds_left(5.0), 2 * 5.0 + 2.0)
    progress.close()


def test_compare_says_holds_or_differs_with_the_size_and_rank_change():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    assert compare("rerun", a, a.copy()).status == "holds"
    tiny = compare("rerun", a, a + 1e-12)
    assert tiny.status == "differs" and tiny.max_rank_shift == 0  # bitwise: any change differs
    assert compare("batch", a, a + 1e-12).status == "holds"  # within 1e-6 of the range
    swapped = compare("order", a, np.array([2.0, 1.0, 3.0, 4.0]))
    assert swapped.status == "differs" and swapped.max_abs_diff == 1.0 and swapped.max_rank_shift == 1
    assert swapped.spearman == 0.8
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a constant score has no rank correlation: None, and no warning
        assert compare("batch", np.ones(4), np.ones(4)).spearman is None


def test_the_sanity_panel_of_a_training_free_method(tiny_dataset, results_dir):
    result = run_cli("sanity", "--method", LAP, "--dataset", "tinyfiles", "--n", "6",
                     "--results-dir", str(results_dir))
    assert result.exit_code == 0, result.stderr
    panel = json.loads((results_dir / "tinyfiles" / LAP / "sanity.json").read_text())
    checks = {c["name"]: c for c in panel["checks"]}
    assert panel["n_images"] == 6 and set(checks) == {"batch", "jpeg", "rerun", "threads", "order", "cpu-gpu"}
    for name in ("batch", "rerun", "threads", "order"):  # numpy on the same pixels: bitwise
        assert checks[name]["status"] == "holds" and checks[name]["max_abs_diff"] == 0.0, checks[name]
    assert checks["jpeg"]["max_abs_diff"] > 0  # JPEG changes the pixels the Laplacian sees
    assert checks["cpu-gpu"]["status"] == "skipped"
    assert "rerun    holds" in result.stdout and "cpu-gpu  skipped" in result.stdout
    assert panel["machine"]["cpu"] and "numpy" in panel["versions"]


def test_the_batch_check_scores_every_image_in_one_call_each_with_its_own_prompt(tiny_dataset, monkeypatch):
    from plugin_fixtures import PromptLength

    # a prompt-aware score that is the size of the call it was computed in: the batch check
    # sees it only if the reference really scores all images, whatever their prompts, at once
    monkeypatch.setattr(PromptLength, "features_of_rows",
                        lambda self, paths, prompts: np.full((len(paths), 1), float(len(paths))))
    panel = api.sanity("test-prompt-length", dataset="tinyfiles", n=6)
    checks = {c["name"]: c for c in panel["checks"]}
    assert checks["batch"]["status"] == "differs" and checks["batch"]["max_abs_diff"] == 5.0  # 6 per call vs 1
    assert checks["rerun"]["status"] == "holds"


def test_every_predicted_column_is_checked_and_the_worst_gives_the_verdict(tiny_dataset, monkeypatch):
    from bench.run import sanity

    def two_targets(scorer, paths, prompt="", prompts=None):  # a quality that holds, an alignment that does not
        names = [Path(p).name for p in paths]
        return pd.DataFrame({"image": names, "quality": [float(sum(map(ord, n))) for n in names],
                             "alignment": float(len(paths))})

    monkeypatch.setattr(sanity, "score_images", two_targets)
    checks = {c["name"]: c for c in api.sanity(LAP, dataset="tinyfiles", n=6)["checks"]}
    assert checks["batch"]["status"] == "differs" and checks["batch"]["max_abs_diff"] == 5.0
    assert checks["batch"]["note"].endswith("worst of quality, alignment: alignment")
    assert checks["order"]["status"] == "holds" and checks["rerun"]["status"] == "holds"


def test_a_check_without_a_note_names_the_worst_column_alone():
    from bench.run.sanity import compare_columns

    reference = pd.DataFrame({"quality": [1.0, 2.0, 3.0], "alignment": [1.0, 2.0, 3.0]})
    other = reference.assign(alignment=[3.0, 2.0, 1.0])
    assert compare_columns("batch", reference, other).note == "worst of quality, alignment: alignment"
    assert compare_columns("batch", reference, other, "6 vs 1").note == "6 vs 1; worst of quality, alignment: alignment"


def test_a_trained_method_without_a_checkpoint_is_skipped_and_says_why(tiny_dataset):
    panel = api.sanity("test-sharpness-svr", dataset="tinyfiles", n=4)
    assert {c["status"] for c in panel["checks"]} == {"skipped"}
    assert "needs --checkpoint" in panel["checks"][0]["note"]


def test_a_row_is_checked_as_it_ran_its_config_and_its_split_0_checkpoint(tiny_dataset, results_dir, monkeypatch):
    from bench.run import sanity

    api.run("test-sharpness-svr", "tinyfiles", splits=1, results_dir=results_dir, summary=False)
    folder = results_dir / "tinyfiles" / "test-sharpness-svr"
    panel = api.sanity("test-sharpness-svr", dataset="tinyfiles", n=4, results_dir=results_dir)
    assert panel["checkpoint"] == str(folder / "checkpoints" / "split_0.pt")
    assert panel["checkpoint_split"] == 0 and panel_heading(panel).endswith("checkpoint of split 0")
    assert panel["config_from"] == str(folder / "run.json")
    assert {c["status"] for c in panel["checks"]} >= {"holds"}  # scored, not skipped
    seen = []  # the config each scoring used: the run's, not the method's bare defaults
    real = sanity.make_scorer
    monkeypatch.setattr(sanity, "make_scorer", lambda *a, **k: seen.append(k["config"]) or real(*a, **k))
    api.sanity("test-sharpness-svr", dataset="tinyfiles", n=4, results_dir=results_dir)
    assert seen and all(c == RunManifest.read(folder).config for c in seen)


def test_a_row_whose_split_0_has_no_checkpoint_is_checked_with_the_first_split_that_has_one(tiny_dataset,
                                                                                              results_dir):
    api.run("test-sharpness-svr", "tinyfiles", splits=3, results_dir=results_dir, summary=False)
    folder = results_dir / "tinyfiles" / "test-sharpness-svr"
    checkpoint_path(folder, 0).unlink()
    checkpoint_path(folder, 1).unlink()
    panel = api.sanity("test-sharpness-svr", dataset="tinyfiles", n=4, results_dir=results_dir)
    assert panel["checkpoint"] == str(checkpoint_path(folder, 2)) and panel["checkpoint_split"] == 2
    assert {c["status"] for c in panel["checks"]} >= {"holds"}  # scored, not skipped
    assert "checkpoint of split 2 (split 0 has none)" in panel_heading(panel)
    assert "checkpoint of split 2 (split 0 has none)" in render_panel(panel).splitlines()[0]


def test_the_cost_figure_keeps_labels_of_rows_at_the_same_cost_apart(tmp_path, monkeypatch):
    from matplotlib.text import Text

    from bench.report import figures

    # NIQE and an SVR on its cached features: the same seconds per image, nearly the same SRCC
    points = pd.DataFrame({"label": ["NIQE", "NIQE-SVR", "GMLF"], "seconds_per_image": [0.0042, 0.0042, 0.0042],
                           "srcc_mean": [0.59, 0.58, 0.585]})
    boxes = []
    monkeypatch.setattr(figures, "_save", lambda fig, path: boxes.extend(
        Text.get_window_extent(t, fig.canvas.get_renderer()) for t in fig.axes[0].texts) or path)
    figures.srcc_against_cost(tmp_path / "cost.png", points, "demo", "mos_quality")
    assert len(boxes) == 3
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


@pytest.mark.parametrize("target, name", [("mos_quality", "quality MOS"), ("mos_align", "alignment MOS")])
def test_the_cost_figure_names_the_target_it_plots(tmp_path, monkeypatch, target, name):
    from bench.report import figures

    points = pd.DataFrame({"label": ["NIQE", "GMLF"], "seconds_per_image": [0.004, 0.02], "srcc_mean": [0.5, 0.6]})
    titles = []
    monkeypatch.setattr(figures, "_save", lambda fig, path: titles.append(fig.axes[0].get_title()) or path)
    figures.srcc_against_cost(tmp_path / "cost.png", points, "demo", target)
    assert titles == [f"demo: {name}, SRCC against cost"]


def test_the_report_plots_srcc_against_cost_and_shows_the_sanity_panels(tiny_dataset, results_dir):
    api.run(LAP, "tinyfiles", splits=2, results_dir=results_dir, summary=False)
    api.sanity(LAP, dataset="tinyfiles", n=4, results_dir=results_dir)
    result = run_cli("report", "--results-dir", str(results_dir), "--resamples", "10")
    assert result.exit_code == 0, result.stderr
    text = (results_dir / "report" / "report.md").read_text()
    assert "tinyfiles_mos_srcc_vs_cost.png" in text and (results_dir / "report" / "figures"
                                                          / "tinyfiles_mos_srcc_vs_cost.png").is_file()
    assert "## Cost" in text and "## Sanity panels" in text and "rerun    holds" in text
