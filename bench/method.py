"""The method contract (scikit-learn style).

* ``Method``: ``fit(train, targets)`` then ``predict(frame)``. Frames hold one row per
  image: columns image, path, prompt, group, and in ``fit`` the run's target columns;
  ``predict`` never sees a target. Constructor
  arguments are the config; no work in ``__init__``; fitted state ends in ``_``.
* ``FeatureMethod``: per-image ``features(image, prompt)`` (pure, cached by the runner
  under ``feature_key``/``feature_version``) and a regressor fitted per split on them.
* ``ScoreMethod``: a training-free scorer: its single feature *is* the score.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from bench.assets import is_present
from bench.config import (
    OVERRIDE,
    constructor_defaults,
    constructor_keys,
    resolve_layers,
)
from bench.images import load_rgb
from bench.registry import get_method_info


class Method:
    method_name: str = ""  # set by @register_method
    smoke_slow: bool = False  # its smoke_config() run still takes many seconds (the contract test marks it slow)

    # The config is declared beside the class (bench.config resolves it, with sources):
    # departures from the constructor's defaults, merged along the class chain;
    defaults: ClassVar[dict] = {}
    # defaults that hold when other keys have given values: ((when, values), ...);
    defaults_when: ClassVar[tuple] = ()
    # named presets; a dataset's name selects its preset by default (e.g. "demo").
    presets: ClassVar[dict] = {}
    # presets that scale the method down, so that its rows are not comparable to the paper:
    # {preset: what is miniature}, e.g. {"demo": "training"} (tables mark such rows).
    miniature_presets: ClassVar[dict] = {}
    # What one image costs, measured on a stated machine, so that a first run's plan can
    # estimate the row before anything ran (bench.run.progress.reference_estimate), e.g.
    # {"seconds_per_image": 0.05, "machine": "2-core CPU, 2026-12-07", "image_size": 512};
    # optional "train_s_per_split". A trainable torch row declares instead its network's
    # seconds per training sample (forward + backward + update, in batches of "batch_size")
    # and per predicted image (its test-time views included), each with the pixels it was
    # measured at (a count: side ** 2, times the views or crops a network sees):
    # {"train_s_per_image": 0.2, "train_pixels": 256 ** 2, "batch_size": 16, "predict_s_per_image": 0.09,
    #  "predict_pixels": 256 ** 2, "machine": ...}, optional "config" (values it holds for only, e.g.
    # {"clip": "RN50"}); a split's estimate is its planned work (TorchMethod.planned_work:
    # models x epochs x training images x draws, test images x passes) at those figures,
    # scaled linearly by pixels (the planned TorchMethod.input_pixels over the measured ones).
    # scripts/reference_costs.py measures both.
    reference_cost: ClassVar[dict | None] = None

    @classmethod
    def config_keys(cls) -> list[str]:
        return constructor_keys(cls)

    @classmethod
    def default_layers(cls) -> list[tuple[str, dict]]:
        """(origin, values) layers of plain defaults, lowest precedence first."""
        layers = constructor_defaults(cls)
        for klass in reversed(cls.__mro__):
            if klass.__dict__.get("defaults"):
                layers.append((f"{klass.__name__}.defaults", dict(klass.__dict__["defaults"])))
        return layers

    @classmethod
    def conditional_defaults(cls) -> list[tuple[str, dict, dict]]:
        return [(klass.__name__, dict(when), dict(values)) for klass in reversed(cls.__mro__)
                for when, values in klass.__dict__.get("defaults_when", ())]

    def get_config(self) -> dict:
        """The constructor arguments, as scikit-learn's ``get_params``; an argument left at None
        takes the value the class declares for it (``defaults``, ``defaults_when``)."""
        given = {k: getattr(self, k) for k in self.config_keys() if getattr(self, k, None) is not None}
        values = resolve_layers(type(self), [(OVERRIDE, OVERRIDE, given)]).values
        return {k: values.get(k) for k in self.config_keys() if hasattr(self, k)}

    def required_assets(self) -> tuple[str, ...]:
        """The pretrained files this configuration needs (default: the registered ones);
        a method configured with a local checkpoint overrides it to need none, and an
        explicit random initialisation (tests) needs none."""
        if getattr(self, "pretrained", True) is False:
            return ()
        return get_method_info(self.method_name).assets

    def local_files(self) -> dict[str, str]:
        """What this configuration builds or reads locally instead of downloading, each with
        its state in words, e.g. {"stand-in CLIP": "built on first use"} (``list --dataset``)."""
        return {}

    @classmethod
    def files_present(cls, info) -> bool:
        """Every file the method loads is in the asset cache (``Family.present_only``)."""
        return all(is_present(asset) for asset in info.assets)

    def fit(self, train: pd.DataFrame, targets: list[str]) -> "Method":
        return self

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """One column per fitted target, index aligned with ``frame``."""
        raise NotImplementedError

    @classmethod
    def smoke_config(cls) -> dict:
        """Constructor arguments that make the method tiny and fast for the contract check
        (bench.testing): small images, one epoch, a small architecture."""
        return {}

    def checkpoint(self) -> bytes | None:
        """The fitted state as bytes, written by the runner as the split's checkpoint."""
        return None

    def load_checkpoint(self, data: bytes) -> "Method":
        """Restore the fitted state written by ``checkpoint``."""
        raise NotImplementedError(f"{self.method_name} cannot load checkpoints")


class FeatureMethod(Method):
    feature_version: str = "1"
    # True: fit_features may run on several threads at once, one split each (run --jobs N):
    # it keeps no shared state and its heavy part releases the GIL (e.g. libsvm).
    fits_in_threads: bool = False

    @property
    def feature_key(self) -> str:
        """Cache name of the feature extractor; methods sharing an extractor share the cache."""
        return self.method_name

    def features(self, image: np.ndarray, prompt: str) -> np.ndarray:
        raise NotImplementedError

    def features_of_rows(self, paths: list[str], prompts: list[str]) -> np.ndarray:
        """Feature matrix of a chunk of images (override to batch, e.g. on a GPU)."""
        rows = [np.atleast_1d(np.asarray(self.features(load_rgb(p), q), dtype=float)) for p, q in zip(paths, prompts)]
        return np.stack(rows)

    def fit_features(self, X: np.ndarray, Y: dict[str, np.ndarray], groups: np.ndarray) -> "FeatureMethod":
        raise NotImplementedError

    def predict_features(self, X: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError


class ScoreMethod(FeatureMethod):
    """Training-free: one feature column is the score, the same for every target and split.

    By default the only feature is ``score()``; a method whose cached feature vector
    already holds its score (so an SVR variant can share the cache) sets ``score_column``.
    """

    score_column: int = 0
    fits_in_threads = True  # nothing to fit

    def score(self, image: np.ndarray, prompt: str) -> float:
        raise NotImplementedError

    def features(self, image, prompt):
        return np.array([self.score(image, prompt)], dtype=float)

    def fit_features(self, X, Y, groups):
        self.targets_ = list(Y)
        return self

    def predict_features(self, X):
        return {target: X[:, self.score_column] for target in self.targets_}
