"""bench/ is arranged in subpackages; the import paths from before keep working."""

import importlib
from pathlib import Path

import pytest

import bench

TOP_LEVEL = {"__init__.py", "__main__.py", "api.py", "errors.py", "method.py", "plugins.py", "registry.py"}


def test_bench_holds_subpackages_and_only_its_public_top_modules():
    root = Path(bench.__file__).parent
    assert {p.name for p in root.glob("*.py")} == TOP_LEVEL
    assert {"datasets", "splits", "run", "train", "results", "report", "assets", "cli"} <= {
        p.name for p in root.iterdir() if (p / "__init__.py").exists()}


@pytest.mark.parametrize("old, new", sorted(bench.MOVED.items()))
def test_an_old_import_path_is_the_moved_module(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)


def test_names_of_the_former_results_and_report_modules_still_resolve():
    from bench.report import build_report
    from bench.results import load_results, split_metrics

    assert load_results.__module__ == split_metrics.__module__ == "bench.results.loading"
    assert build_report.__module__ == "bench.report.build"
    with pytest.raises(AttributeError):
        bench.results.no_such_name  # noqa: B018
