"""bench/ is arranged in subpackages by layer (bench.layers); former import paths are gone."""

import importlib
from pathlib import Path

import pytest

import bench

TOP_LEVEL = {"__init__.py", "__main__.py", "api.py", "config.py", "devices.py", "errors.py", "files.py", "images.py",
             "layers.py", "bars.py", "method.py", "plugins.py", "registry.py", "targets.py"}


def test_bench_holds_subpackages_and_only_its_public_top_modules():
    root = Path(bench.__file__).parent
    assert {p.name for p in root.glob("*.py")} == TOP_LEVEL
    assert {"datasets", "splits", "run", "train", "results", "report", "assets", "cli", "testing"} <= {
        p.name for p in root.iterdir() if (p / "__init__.py").exists()}


@pytest.mark.parametrize("old", ["bench.runner", "bench.manifest", "bench.tables", "bench.run.config",
                                 "bench.run.devices", "bench.datasets.images", "bench.report.protocol"])
def test_a_former_import_path_is_gone(old):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(old)


def test_packages_hold_no_names_of_the_modules_they_replaced():
    with pytest.raises(AttributeError):
        bench.results.load_results  # noqa: B018
