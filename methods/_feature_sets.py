"""Methods backed by a feature module of ``methods.features`` (extract/VERSION/NAMES).

The cache key is the module's name, so a training-free score and its ``-svr`` variant
compute each image's features once between them.
"""

from __future__ import annotations

import importlib

from bench.method import FeatureMethod


class ModuleFeatures(FeatureMethod):
    feature_module: str = ""  # e.g. "gmlf" for methods.features.gmlf

    @property
    def module(self):
        return importlib.import_module(f"methods.features.{self.feature_module}")

    @property
    def feature_key(self):
        return self.feature_module

    @property
    def feature_version(self):
        return self.module.VERSION

    def features(self, image, prompt):
        return self.module.extract(image)
