"""ipiqa-bench: a benchmark harness for AI-generated image quality assessment.

The package follows the data flow: ``datasets`` (loaders, checks, the demo) -> ``splits``
-> ``run`` (config resolver, runner, executors, features) and ``train`` (the training loop)
-> ``results`` (the store, manifests, metrics) -> ``report`` (tables, figures, significance);
``cli`` and ``api`` drive it; ``method`` and ``registry`` are the method contract.
"""

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

# Modules that lived directly under bench/ before it was arranged in subpackages: their old
# import paths stay working (plugins and notebooks write them), as the same module objects.
MOVED = {
    "bench.ablation": "bench.report.ablation",
    "bench.cached_data": "bench.train.cached_data",
    "bench.check": "bench.datasets.check",
    "bench.checkpoints": "bench.results.checkpoints",
    "bench.commands": "bench.cli.commands",
    "bench.completion": "bench.results.completion",
    "bench.config": "bench.run.config",
    "bench.demo_generator": "bench.datasets.demo_generator",
    "bench.devices": "bench.run.devices",
    "bench.executors": "bench.run.executors",
    "bench.feature_cache": "bench.run.feature_cache",
    "bench.figures": "bench.report.figures",
    "bench.image_cache": "bench.train.image_cache",
    "bench.images": "bench.datasets.images",
    "bench.locks": "bench.results.locks",
    "bench.manifest": "bench.results.manifest",
    "bench.metrics": "bench.results.metrics",
    "bench.paper": "bench.report.paper",
    "bench.protocol": "bench.report.protocol",
    "bench.ray_executor": "bench.run.ray_executor",
    "bench.runner": "bench.run.runner",
    "bench.safe_load": "bench.assets.safe_load",
    "bench.scoring": "bench.run.scoring",
    "bench.significance": "bench.report.significance",
    "bench.speed": "bench.train.speed",
    "bench.store": "bench.results.store",
    "bench.tables": "bench.report.tables",
    "bench.tasks": "bench.run.tasks",
    "bench.torch_method": "bench.train.torch_method",
    "bench.train_config": "bench.train.config",
    "bench.training": "bench.train.loop",
    "bench.validation": "bench.datasets.validation",
    "bench.weights": "bench.assets.weights",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        # the import system returns what sys.modules holds under the name: the moved module
        sys.modules[module.__name__] = importlib.import_module(MOVED[module.__name__])


def former_module_attributes(package: str, module: str):
    """A package's ``__getattr__`` that serves the names of ``module``, the module the package
    replaced (``bench.results`` was results.py, now ``bench.results.loading``), loaded on use."""

    def __getattr__(name):
        if not name.startswith("__"):
            found = getattr(importlib.import_module(module), name, None)
            if found is not None:
                return found
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


sys.meta_path.insert(0, _MovedModules())  # before any finder that might still see an old file
