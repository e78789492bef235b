"""The paper's SVR-based group, and an SVR variant of every handcrafted feature set."""

from __future__ import annotations

from bench.registry import register_method
from methods._feature_sets import ModuleFeatures
from methods._reference_costs import reference_cost
from methods._svr import SVRFeatureMethod
from methods.handcrafted import NIQE, NIQE_PARAMS

ALL_TARGETS = ("quality", "alignment", "mos")
VARIANT = "variant: not in the paper; a feature set regressed per split"


def _svr(name: str, display: str, module: str, doc: str, fidelity: str = VARIANT):
    cls = type(display.replace("-", "_"), (ModuleFeatures, SVRFeatureMethod),
               {"feature_module": module, "__doc__": doc, "reference_cost": reference_cost(module)})
    return register_method(name, family="svr", display=display, trains=True, targets=ALL_TARGETS,
                           fidelity=fidelity)(cls)


GMLF = _svr("gmlf", "GMLF", "gmlf",
            "Gradient-magnitude and Laplacian-of-Gaussian joint statistics (Xue et al., TIP 2014) + SVR.",
            "faithful: features equal Grad_LOG_CP_TIP.m run under Octave (6 images, 6e-17); SVR fitted per split")
HIGRADE = _svr("higrade", "HIGRADE", "higrade",
               "HIGRADE-1 gradient and log-derivative NSS in LAB at two scales (Kundu et al., TIP 2017) + SVR.",
               "faithful: features equal higrade_1.m run under Octave (6 images, 1.5e-6); SVR fitted per split")
CEIQ_SVR = _svr("ceiq-svr", "CEIQ-SVR", "ceiq", "CEIQ's five contrast features regressed per split with an SVR.")
DSIQA_SVR = _svr("dsiqa-svr", "DSIQA-SVR", "cpbd", "CPBD sharpness and mean edge width regressed per split with an SVR.")
SISBLIM_SVR = _svr("sisblim-svr", "SISBLIM-SVR", "sisblim",
                   "SISBLIM's noise, blur and JPEG components regressed per split with an SVR.")


@register_method("niqe-svr", family="svr", display="NIQE-SVR", trains=True, targets=ALL_TARGETS,
                 assets=(NIQE_PARAMS.name,), fidelity=VARIANT)
class NIQESVR(NIQE, SVRFeatureMethod):
    """The NIQE score regressed per split with an SVR (a learned monotone remapping)."""

    def __init__(self, C=(1.0, 10.0, 100.0), gamma=("scale",), epsilon=0.1, cv_folds=3):
        SVRFeatureMethod.__init__(self, C, gamma, epsilon, cv_folds)

    fit_features = SVRFeatureMethod.fit_features
    predict_features = SVRFeatureMethod.predict_features
