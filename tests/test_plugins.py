"""Open registries: a plugin adds a family, a metric, an executor or a dataset target in its
own module; a plugin that fails to import is reported once and leaves the rest usable."""

import json
import logging
import os
import subprocess
import sys
from importlib.metadata import EntryPoint

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli, write_results

from bench import plugins
from bench.datasets import Dataset
from bench.targets import register_target_column, target_kind
from bench.datasets.base import DATASET_REGISTRY
from bench.targets import TARGET_COLUMN_KINDS, TARGET_COLUMNS, score_kinds
from bench.errors import BenchError
from bench.method import ScoreMethod
from bench.registry import (
    FAMILIES,
    FAMILY_REGISTRY,
    METHOD_REGISTRY,
    get_method_info,
    list_methods,
    register_family,
    register_method,
    resolve_method_names,
)
from bench.results.metrics import METRIC_REGISTRY, evaluate, register_metric
from bench.run.executors import EXECUTOR_REGISTRY, LocalExecutor, make_executor, register_executor
from bench.run.ray_executor import task_resources

REGISTRIES = (FAMILY_REGISTRY, METHOD_REGISTRY, METRIC_REGISTRY, EXECUTOR_REGISTRY, TARGET_COLUMNS, DATASET_REGISTRY)


@pytest.fixture
def scratch_registries(monkeypatch):
    """Registrations made by the test are undone afterwards."""
    for registry in REGISTRIES:
        registry.load()
        monkeypatch.setattr(registry, "_entries", dict(registry._entries))


def test_families_and_target_kinds_are_read_from_their_registries():
    assert tuple(FAMILIES) == ("handcrafted", "svr", "deep", "alignment", "ipiqa", "pyiqa")
    assert FAMILIES == ("handcrafted", "svr", "deep", "alignment", "ipiqa", "pyiqa") and "deep" in FAMILIES
    assert score_kinds()[:3] == ("quality", "alignment", "mos")  # a dataset card may add its own after them
    builtin = {"mos_quality": "quality", "mos_align": "alignment", "mos": "mos", "mos_naturalness": "quality",
               "mos_technical": "quality", "mos_rationality": "quality"}
    assert {k: v for k, v in TARGET_COLUMN_KINDS.items() if k in builtin} == builtin


def test_a_plugin_family_sets_order_resources_and_tables(scratch_registries, results_dir):
    register_family("nets-plus", order=35, resources={"num_cpus": 2}, tables=(1,))

    @register_method("test-plus", family="nets-plus")
    class Plus(ScoreMethod):
        def score(self, image, prompt):
            return 1.0

    assert list(FAMILIES).index("nets-plus") == 3  # after deep (30), before alignment (40)
    assert resolve_method_names("nets-plus") == ["test-plus"]
    names = [m.name for m in list_methods()]
    assert names.index("test-plus") > names.index("resnet50") and names.index("test-plus") < names.index("clipscore")
    assert task_resources(None, "nets-plus", True) == {"num_cpus": 2}
    listing = run_cli("list", "--extensions").output
    assert "nets-plus" in listing and "num_cpus=2" in listing and "mos_align        alignment" in listing
    assert task_resources(None, "deep", True) == {"num_gpus": 1} and task_resources(None, "svr", True) == {"num_cpus": 1}
    with pytest.raises(ValueError, match="unknown family 'nope'"):
        register_method("test-nope", family="nope")
    # Table 1 shows the family's rows between the deep and alignment families; Table 2 does not.
    write_results(results_dir, "agiqa3k", "plus", "Plus", 0.5, family="nets-plus", target="mos_quality")
    write_results(results_dir, "agiqa3k", "clipiqa", "CLIPIQA", 0.5, family="deep", target="mos_quality")
    write_results(results_dir, "agiqa3k", "hpsv2", "HPS v2", 0.5)
    table1 = run_cli("table", "--results-dir", str(results_dir), "--table", "1").output
    rows = [line.split("|")[1].strip() for line in table1.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows == ["Family", "deep", "nets-plus"], table1
    assert "Plus" not in run_cli("table", "--results-dir", str(results_dir), "--table", "2").output


def test_a_registered_metric_is_computed_and_shown_and_the_paper_tolerates_it(scratch_registries, results_dir):
    @register_metric("mae", higher_is_better=False)
    def mae(pred, mos):
        return float(np.mean(np.abs(pred - mos)))

    assert evaluate([1, 2, 4, 3, 5], [1, 2, 3, 4, 5])["mae"] == pytest.approx(0.4)
    assert np.isnan(evaluate([1, 1, 1, 1, 1], [1, 2, 3, 4, 5])["mae"])  # degenerate: NaN with the reason, as the others
    write_results(results_dir, "agiqa3k", "clipscore", "CLIPScore", 0.8)
    result = run_cli("table", "--results-dir", str(results_dir), "--table", "2", "--paper", "--format", "csv")
    assert result.exit_code == 0, result.output
    row = pd.read_csv(pd.io.common.StringIO(result.output)).set_index("method").loc["clipscore"]
    assert row["paper_srcc"] == 0.5972  # the paper's numbers still beside ours
    assert np.isnan(row["paper_mae"]) and np.isnan(row["delta_mae"])  # the paper has no MAE
    per_split = [pd.read_csv(results_dir / "agiqa3k" / "clipscore" / f"split_{k}.csv") for k in range(3)]
    assert row["mae_mean"] == pytest.approx(np.mean([np.mean(np.abs(p["pred"] - p["mos"])) for p in per_split]),
                                            rel=1e-5)
    markdown = run_cli("table", "--results-dir", str(results_dir), "--table", "2", "--paper").output
    assert "agiqa3k mos_align MAE" in markdown
    ablation = run_cli("table", "--results-dir", str(results_dir), "--ablation", "--paper")
    assert "Traceback" not in ablation.output  # no IP-IQA rows here: the one-line refusal, not a KeyError


def test_a_plugin_executor_is_offered_by_run(scratch_registries, tiny_dataset, results_dir):
    @register_executor("serial-test", "LocalExecutor under another name (tests only)")
    def serial(jobs, address):
        executor = LocalExecutor(1)
        executor.name = "serial-test"
        return executor

    assert make_executor("serial-test").name == "serial-test"
    with pytest.raises(BenchError, match="unknown executor 'nope'; known executors: local, ray, serial-test"):
        make_executor("nope")
    result = run_cli("run", "--methods", "test-lap-var", "--dataset", "tinyfiles", "--splits", "1",
                     "--results-dir", str(results_dir), "--executor", "serial-test")
    assert result.exit_code == 0, result.output
    manifest = json.loads((results_dir / "tinyfiles" / "test-lap-var" / "run.json").read_text())
    assert manifest["executor"] == "serial-test"


def test_a_dataset_with_a_new_target_kind(scratch_registries, tiny_dataset, results_dir):
    from bench.run.executors import LocalExecutor
    from bench.run.runner import RunOptions, run_benchmark
    from bench.splits import SplitConfig

    with pytest.raises(ValueError, match="unknown target kinds \\['aesthetic'\\]"):
        register_method("test-aesthetic", family="handcrafted", targets=("aesthetic",))
    frame = tiny_dataset.assign(mos_aesthetic=lambda f: -f["mos"])
    with pytest.raises(BenchError, match="target column\\(s\\) \\['mos_aesthetic'\\] are not registered"):
        Dataset("aesthetic-set", frame, ("mos", "mos_aesthetic"), results_dir)
    register_target_column("mos_aesthetic", "aesthetic", "an aesthetics MOS (tests only)")

    @register_method("test-aesthetic", family="handcrafted", targets=("aesthetic",))
    class Aesthetic(ScoreMethod):
        def score(self, image, prompt):
            return float(image.mean())

    assert target_kind("mos_aesthetic") == "aesthetic" and "aesthetic" in score_kinds()
    data = Dataset("aesthetic-set", frame, ("mos", "mos_aesthetic"), results_dir)
    options = RunOptions(results_dir=results_dir, splits=SplitConfig(1))
    outcomes = run_benchmark(["test-aesthetic", "test-lap-var"], data, options, LocalExecutor())
    assert [o.status for o in outcomes] == ["done", "done"]
    written = {name: set(pd.read_csv(results_dir / "aesthetic-set" / name / "split_0.csv")["target"])
               for name in ("test-aesthetic", "test-lap-var")}
    assert written == {"test-aesthetic": {"mos_aesthetic"}, "test-lap-var": {"mos"}}


BROKEN = "raise ImportError('needs a package that is not installed')\n"


def test_a_broken_entry_point_plugin_is_reported_once_and_the_rest_works(scratch_registries, monkeypatch, tmp_path,
                                                                        caplog):
    (tmp_path / "broken_plugin.py").write_text(BROKEN)
    monkeypatch.syspath_prepend(str(tmp_path))
    groups = ("ipiqa_bench.methods", "ipiqa_bench.families", "ipiqa_bench.metrics", "ipiqa_bench.executors",
              "ipiqa_bench.datasets")
    broken = {group: [EntryPoint(name="broken", value="broken_plugin", group=group)] for group in groups}
    monkeypatch.setattr(plugins, "entry_points", lambda group: broken.get(group, []))
    monkeypatch.setattr(plugins, "_failed", {})
    for registry in REGISTRIES:
        monkeypatch.setattr(registry, "_loaded", False)
    caplog.set_level(logging.WARNING, logger="ipiqa_bench")
    assert {"niqe", "ipiqa", "test-lap-var"} <= {m.name for m in list_methods()}
    assert run_cli("list").exit_code == 0
    assert make_executor("local").name == "local" and "mos" in score_kinds()
    assert evaluate([1, 2, 3, 4, 5], [1, 2, 3, 4, 6])["srcc"] == pytest.approx(1.0)
    warnings = [r.getMessage() for r in caplog.records if "broken_plugin" in r.getMessage()]
    assert len(warnings) == 1 and "needs a package that is not installed" in warnings[0], warnings
    with pytest.raises(BenchError, match="unknown method 'from-broken'.*plugin broken_plugin failed to import"):
        get_method_info("from-broken")


def test_a_broken_env_plugin_does_not_break_the_cli(tmp_path):
    """In a fresh process, as a user meets it: `list` still lists everything else."""
    (tmp_path / "broken_plugin.py").write_text(BROKEN)
    env = {**os.environ, "IPIQA_BENCH_PLUGINS": "plugin_fixtures,broken_plugin",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ["PYTHONPATH"]])}
    result = subprocess.run([sys.executable, "-m", "bench", "list"], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "niqe" in result.stdout and "test-lap-var" in result.stdout
    assert result.stderr.count("plugin broken_plugin ($IPIQA_BENCH_PLUGINS) failed to import") == 1, result.stderr
