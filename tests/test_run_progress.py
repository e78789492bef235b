"""What `run` tells its user: the plan, [k/N] progress, one report per failure, the summary,
Ctrl-C (exit 130, what was kept, resume) and a training resumed from its last epoch."""

from helpers import run_cli

from bench import api

SVR, LAP = "test-sharpness-svr", "test-lap-var"


def _run(results_dir, methods, splits="2", *extra):
    return run_cli("run", "--methods", methods, "--dataset", "tinyfiles", "--splits", splits,
                   "--results-dir", str(results_dir), *extra)


def test_run_states_its_plan_shows_progress_and_ends_with_a_summary(tiny_dataset, results_dir):
    result = _run(results_dir, f"{SVR},{LAP},clipscore")
    assert result.exit_code == 1, result.stderr  # clipscore's weights are missing
    err = result.stderr
    assert "plan on tinyfiles (2 split(s))" in err
    assert "warning: the smallest test side: 8 test images: the 4-parameter logistic fit has 4 residual" in err
    assert f"splits: wrote {results_dir / 'tinyfiles' / 'splits.csv'} (2 split(s), seed 0, test size 0.2)" in err
    assert f"{SVR}: 2 of 2 split(s) to run; estimate unknown (no earlier run of it on this dataset)" in err
    assert "clipscore failed: pretrained file 'ViT-B-32.pt'" in err and err.count("clipscore failed") == 1
    assert "4 task(s) (method x split) to run; estimate unknown\n" in err
    assert err.index("plan on") < err.index("[1/4] ") < err.index("[4/4] ") < err.index("summary:")
    assert f"[4/4] {LAP} split 1 done" in err and "left at each method's measured pace" in err
    # The summary's numbers are the table's (same files, same code).
    table = api.table(results_dir, "tinyfiles").set_index("method")
    summary = err[err.index("summary:"):]
    for method in (SVR, LAP):
        row = table.loc[method]
        assert f"{row['srcc_mean']:.4f}" in summary and f"{row['plcc_mean']:.4f}" in summary
    assert summary.count("2/2") == 2
    assert [line.split()[1:] for line in summary.splitlines() if "clipscore" in line] == [
        ["clipscore", "-", "-", "-", "0/2", "failed"]]

    again = _run(results_dir, f"{SVR},{LAP}", "1")
    assert (f"splits: reusing {results_dir / 'tinyfiles' / 'splits.csv'} (2 split(s) in the file; this run uses "
            "the first 1)") in again.stderr
    assert f"{SVR}: kept, 1/1 splits done" in again.stderr and "nothing to run" in again.stderr
    forced = _run(results_dir, SVR, "2", "--force")
    assert "s/split, the mean of 2 split(s) of its earlier run, moved aside" in forced.stderr


def test_a_failing_method_is_reported_once_and_in_the_summary(tiny_dataset, results_dir, caplog):
    result = _run(results_dir, f"test-broken,{LAP}")
    assert result.exit_code == 1
    said = result.stderr + caplog.text  # all the user's terminal shows: echoed lines and log lines
    assert said.count("broken on purpose") == 1, said
    # why and where, without -v: the stage, the exception's type and message
    assert "test-broken failed in features: RuntimeError: broken on purpose" in result.stderr
    summary = result.stderr[result.stderr.index("summary:"):].splitlines()
    assert [line.split()[1:] for line in summary if "test-broken" in line] == [
        ["test-broken", "-", "-", "-", "0/2", "failed"]]


def test_ctrl_c_keeps_finished_splits_exits_130_and_the_rerun_resumes(tiny_dataset, results_dir, monkeypatch):
    from bench.run import runner

    write = runner._write_split
    calls = []

    def interrupted_after_two(*args):
        write(*args)
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_write_split", interrupted_after_two)
    result = _run(results_dir, SVR, "4")
    assert result.exit_code == 130
    lines = [line for line in result.stderr.splitlines() if "interrupted" in line or "Rerun" in line]
    assert lines == [f"ipiqa-bench: interrupted: kept the finished splits ({SVR} 2/4; 2 finished in this run).",
                     "ipiqa-bench: Rerun the same command to resume: finished splits are not redone, and a "
                     "training continues from its last finished epoch."]
    method = results_dir / "tinyfiles" / SVR
    assert sorted(p.name for p in method.glob("split_*.csv")) == ["split_0.csv", "split_1.csv"]
    assert not [p for p in results_dir.rglob("*.tmp")]  # nothing half-written
    monkeypatch.setattr(runner, "_write_split", write)
    rerun = _run(results_dir, SVR, "4")
    assert rerun.exit_code == 0 and f"{SVR}: 2 of 4 split(s) to run (2 done, kept); estimate " in rerun.stderr
    assert "s/split, the mean of 2 split(s) of its finished splits" in rerun.stderr
    assert "[2/2] " in rerun.stderr and len(list(method.glob("split_*.csv"))) == 4


TINY_TRAINING = ("--epochs", "2", "--image-size", "32", "--batch-size", "8", "--num-workers", "0",
                 "--device", "cpu")


def test_an_interrupted_training_resumes_from_its_last_epoch(tiny_dataset, results_dir, tmp_path, monkeypatch,
                                                             caplog):
    """cnniqa stopped after its 1st epoch: the rerun trains the 2nd only, and its predictions
    are byte-identical to an uninterrupted run's (CPU, no loader workers)."""
    from bench.train.epoch_state import EpochState

    reference = tmp_path / "reference"
    assert _run(reference, "cnniqa", "1", *TINY_TRAINING).exit_code == 0
    save = EpochState.save
    saved = []

    def stop_after_one_epoch(self, state):
        save(self, state)
        saved.append(self.path)
        raise KeyboardInterrupt

    monkeypatch.setattr(EpochState, "save", stop_after_one_epoch)
    result = _run(results_dir, "cnniqa", "1", *TINY_TRAINING)
    assert result.exit_code == 130 and "cnniqa 0/1" in result.stderr
    method = results_dir / "tinyfiles" / "cnniqa"
    (state,) = (method / ".epoch-state" / "split_0").glob("*.pt")
    assert not list(method.glob("split_*.csv"))
    monkeypatch.setattr(EpochState, "save", save)
    caplog.set_level("INFO", logger="ipiqa_bench")
    rerun = _run(results_dir, "cnniqa", "1", *TINY_TRAINING)
    assert rerun.exit_code == 0 and "resumed after epoch 1 of 2" in caplog.text
    assert (method / "split_0.csv").read_bytes() == (reference / "tinyfiles" / "cnniqa" / "split_0.csv").read_bytes()
    assert not (method / ".epoch-state").exists()  # removed once the split is written
    assert api.table(results_dir, "tinyfiles")["n_splits"].tolist() == [1]


def test_the_plan_names_why_a_method_is_left_out():
    from bench.registry import get_method_info
    from bench.run.progress import Estimate, describe_plan
    from bench.run.runner import MethodOutcome, MethodPlan

    plans = [MethodPlan(get_method_info(LAP), MethodOutcome(LAP, "skipped", "predicts none of ['mos_align']")),
             MethodPlan(get_method_info(SVR), n_splits=3, done=[0], todo=[1, 2], estimate=Estimate(90.0, "as recorded"))]
    assert describe_plan(plans, "d", 3) == [
        "plan on d (3 split(s)); estimates are from recorded times, not promises:",
        f"  {LAP}: excluded, predicts none of ['mos_align']",
        f"  {SVR}: 2 of 3 split(s) to run (1 done, kept); estimate 3m00s (as recorded)",
        "2 task(s) (method x split) to run; estimate 3m00s"]
