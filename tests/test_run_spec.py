"""The typed run specification (bench.run.spec.RunSpec), what a run removes on purpose, and
the order of what a run says first (an error about the input before anything else)."""

import logging
from pathlib import Path

import pytest
from helpers import run_cli

from bench import api
from bench.errors import BenchError
from bench.registry import removed_method_names, resolve_method_names
from bench.results.removed import read_removed, record_removed
from bench.run.spec import RunSpec


def test_the_cli_options_become_a_spec():
    spec = RunSpec.from_cli(n_splits=3, methods="handcrafted", dataset="demo", root=None, seed=1, test_size=0.3,
                            results_dir=Path("r"), device="cpu", force=False, drop_invalid=True, executor="local",
                            jobs=None, ray_address=None, preset=None, random_init=True, evaluate="splits",
                            train_on=None, train_root=None, recipe="paper", epochs=2, lr=None)
    assert (spec.splits, spec.seed, spec.test_size, spec.drop_invalid) == (3, 1, 0.3, True)
    assert spec.overrides == {"epochs": 2, "lr": None}  # None: not given, as before
    assert spec.method_config() == {"epochs": 2, "lr": None, "pretrained": False, "recipe": "paper"}


def test_a_spec_is_checked_when_made():
    assert RunSpec(methods=["a", "b"]).methods == "a,b"
    with pytest.raises(BenchError, match="unknown evaluation 'some'"):
        RunSpec(evaluate="some")
    with pytest.raises(TypeError, match="not both"):
        api.run(RunSpec(), "demo")
    with pytest.raises(TypeError):
        api.run(method="niqe")  # a misspelt option is not silently ignored


def test_left_out_methods_are_said_in_one_line(caplog):
    present = set(resolve_method_names("all", report=False))
    with caplog.at_level(logging.INFO, logger="ipiqa_bench"):
        assert set(resolve_method_names("all")) == present
    lines = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert len(lines) <= 1
    if lines:  # methods of a present-only family (pyiqa) whose files are not cached here
        assert "`ipiqa-bench list` says what each needs" in lines[0]


def test_an_error_about_the_dataset_comes_first(tmp_path):
    result = run_cli("run", "--dataset", "rooted", "--root", str(tmp_path / "absent"),
                     "--results-dir", str(tmp_path / "results"))
    assert result.exit_code == 2
    assert "left out" not in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_removed_methods_are_remembered_until_run(tmp_path):
    assert removed_method_names("handcrafted,svr,-ceiq-release") == ["ceiq-release"]
    assert removed_method_names("handcrafted") == []
    record_removed(tmp_path, ["a", "b"], ["c"])
    assert read_removed(tmp_path) == {"a", "b"}
    record_removed(tmp_path, [], ["a"])  # a later run that runs it: no longer removed
    assert read_removed(tmp_path) == {"b"}
    (tmp_path / "removed.json").write_text("[1, 2")
    with pytest.raises(BenchError, match="removed.json"):
        read_removed(tmp_path)


def test_a_method_removed_on_purpose_is_not_reported_missing(tiny_dataset, results_dir):
    run = run_cli("run", "--methods", "test-lap-var,-test-broken", "--dataset", "tinyfiles", "--splits", "1",
                  "--results-dir", str(results_dir))
    assert run.exit_code == 0, run.stderr
    output = run_cli("table", "--results-dir", str(results_dir)).output
    missing = [line for line in output.splitlines() if line.startswith("No results on tinyfiles")]
    assert missing and "test-constant" in missing[0] and "test-broken" not in missing[0]
    # named in the table's own selection, it is reported: the user asked for it
    asked = run_cli("table", "--results-dir", str(results_dir), "--methods", "test-lap-var,test-broken").output
    assert "No results on tinyfiles for: test-broken." in asked
