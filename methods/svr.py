"""The paper's SVR-based group: handcrafted features regressed per split with an SVR."""

from __future__ import annotations

from bench.registry import register_method
from methods._svr import SVRFeatureMethod

ALL_TARGETS = ("quality", "alignment", "mos")


@register_method("gmlf", family="svr", display="GMLF", trains=True, targets=ALL_TARGETS)
class GMLF(SVRFeatureMethod):
    """Gradient-magnitude and Laplacian-of-Gaussian joint statistics (Xue et al., TIP 2014) + SVR."""

    @property
    def feature_key(self):
        return "gmlf"

    @property
    def feature_version(self):
        from methods.features import gmlf

        return gmlf.VERSION

    def features(self, image, prompt):
        from methods.features import gmlf

        return gmlf.extract(image)
