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

import inspect

import numpy as np
import pandas as pd

from bench.images import load_rgb


class Method:
    method_name: str = ""  # set by @register_method

    def get_config(self) -> dict:
        """The constructor arguments, as scikit-learn's ``get_params``."""
        params = inspect.signature(type(self).__init__).parameters
        return {name: getattr(self, name) for name in params if name != "self" and hasattr(self, name)}

    def required_assets(self) -> tuple[str, ...]:
        """The pretrained files this configuration needs (default: the registered ones);
        a method configured with a local checkpoint overrides it to need none, and an
        explicit random initialisation (tests) needs none."""
        from bench.registry import get_method_info

        if getattr(self, "pretrained", True) is False:
            return ()
        return get_method_info(self.method_name).assets

    def fit(self, train: pd.DataFrame, targets: list[str]) -> "Method":
        return self

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """One column per fitted target, index aligned with ``frame``."""
        raise NotImplementedError

    @classmethod
    def dataset_preset(cls, dataset: str) -> dict:
        """Constructor arguments this method defaults to on ``dataset`` (e.g. the demo's
        stand-in backbone); the runner applies them before the CLI overrides, so the run's
        manifest records what was actually used."""
        return {}

    def checkpoint(self) -> bytes | None:
        """The fitted state as bytes, written by the runner as the split's checkpoint."""
        return None

    def load_checkpoint(self, data: bytes) -> "Method":
        """Restore the fitted state written by ``checkpoint``."""
        raise NotImplementedError(f"{self.method_name} cannot load checkpoints")


class FeatureMethod(Method):
    feature_version: str = "1"

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

    def score(self, image: np.ndarray, prompt: str) -> float:
        raise NotImplementedError

    def features(self, image, prompt):
        return np.array([self.score(image, prompt)], dtype=float)

    def fit_features(self, X, Y, groups):
        self.targets_ = list(Y)
        return self

    def predict_features(self, X):
        return {target: X[:, self.score_column] for target in self.targets_}
