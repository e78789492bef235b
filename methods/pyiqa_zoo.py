"""pyiqa's no-reference zoo as training-free rows: one row ``pyiqa:<metric>`` per metric.

The rows are generated from pyiqa's own metric table (methods/_pyiqa_catalog.py): every
no-reference metric that scores single images, its sign from pyiqa's ``lower_better``, the
pretrained files its options select as its assets. Each is pyiqa's ``create_metric(name)``
with its released weights, built with every download resolved through the asset cache
(methods/_pyiqa_downloads.py), scoring each image at its own size as pyiqa does.

``run --methods pyiqa`` runs the rows whose weights are in the cache (a download of the
whole zoo is tens of gigabytes); a row named on its own fetches what it needs.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from bench.assets import is_present
from bench.errors import BenchError
from bench.method import ScoreMethod
from bench.registry import MethodInfo, register_family, register_method
from methods._reference_costs import prediction_reference_cost
from methods._pyiqa_catalog import ZooMetric, pyiqa_licence, zoo_metrics
from methods._pyiqa_downloads import asset_for_url, hub_repository, redirected_downloads
from methods._trained_on import pyiqa_trained_on

FAMILY = "pyiqa"
register_family(FAMILY, order=60, present_only=True,
                description="pyiqa's no-reference metrics, zero-shot with their released weights")
PREFIX = "pyiqa:"


class PyiqaMetric(ScoreMethod):
    """A pyiqa no-reference metric with its released weights, training-free."""

    metric: str = ""  # pyiqa's metric name, set per row
    takes_text: bool = False

    @classmethod
    def files_present(cls, info) -> bool:
        return weights_present(info)
    feature_version = "pyiqa-0.1.16-1"

    def __init__(self, device="auto"):
        self.device = device

    @property
    def feature_key(self) -> str:
        return f"pyiqa-{self.metric}"

    def score(self, image, prompt):
        import torch

        metric = _built_metric(self.metric, self.device)
        # torch.tensor copies: decoded images may be read-only arrays
        tensor = torch.tensor(np.asarray(image)).permute(2, 0, 1)[None].float() / 255.0
        extra = {"caption_list": [prompt]} if self.takes_text else {}
        with torch.no_grad():
            return float(metric(tensor.to(metric.device), **extra).reshape(-1)[0].item())


@lru_cache(maxsize=2)  # the runner builds a fresh method for every chunk of images
def _built_metric(name: str, device: str):
    import pyiqa

    from bench.devices import resolve_device

    try:
        with redirected_downloads():
            return pyiqa.create_metric(name, device=resolve_device(device))
    except ImportError as exc:  # a metric's optional dependency (Q-Align's, for one)
        raise BenchError(f"pyiqa:{name} needs the Python package {exc.name!r}, which is not installed") from None


def weights_present(info: MethodInfo) -> bool:
    """Every file the row is known to load is in the cache (a row whose network loads
    files this harness cannot list, such as a whole Hugging Face repository, never is)."""
    metric = _ROWS.get(info.name)
    if metric is None:
        return True
    if metric.downloads and not (metric.urls or metric.hub_repos):
        return False
    return all(is_present(asset) for asset in info.assets)


def _register(metric: ZooMetric):
    class_name = "Pyiqa_" + re.sub(r"\W", "_", metric.name)
    doc = (f"pyiqa's {metric.name} ({metric.arch} network), no-reference, with pyiqa's released weights "
           f"(scores {metric.score_range}, {'lower' if metric.lower_better else 'higher'} is better).")
    cls = type(class_name, (PyiqaMetric,), {"metric": metric.name, "takes_text": metric.takes_text,
                                            "reference_cost": prediction_reference_cost(PREFIX + metric.name),
                                            "__doc__": doc, "__module__": __name__, "__qualname__": class_name})
    globals()[class_name] = cls  # importable by name: process executors pickle methods by reference
    targets = ("alignment", "mos") if metric.takes_text else ("quality", "mos")
    return register_method(PREFIX + metric.name, family=FAMILY, display=PREFIX + metric.name,
                           uses_prompt=metric.takes_text, targets=targets, higher_is_better=not metric.lower_better,
                           assets=tuple(asset_for_url(url).name for url in metric.urls)
                           + tuple(hub_repository(repo).name for repo in metric.hub_repos),
                           licence=pyiqa_licence(), trained_on=pyiqa_trained_on(metric.name),
                           fidelity="reimplementation: pyiqa's implementation with its released weights, "
                                    "not checked here against the authors' code")(cls)


_ROWS = {PREFIX + metric.name: metric for metric in zoo_metrics()}
for _metric in zoo_metrics():
    _register(_metric)
