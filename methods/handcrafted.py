"""The paper's handcrafted group: training-free scores correlated with MOS directly."""

from __future__ import annotations

import numpy as np

from bench.assets import Asset, register_asset, resolve
from bench.method import ScoreMethod
from bench.registry import register_method
from methods._feature_sets import ModuleFeatures
from methods._reference_costs import reference_cost
from methods.features import ceiq, niqe

NIQE_PARAMS = register_asset(Asset(
    name="niqe-params",
    filename="niqe_modelparameters.mat",
    url="https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main/niqe_modelparameters.mat",
    sha256="66357a10c2c38b9f5b13bbbd1d66f08dc1faf62f6e446c45d62b18a8150ada40",
    description="NIQE pristine-model parameters (mu_prisparam, cov_prisparam) of the original release",
    # BasicSR's copy (Apache 2.0), the same values as an .npz, read without pickle
    shipped="niqe_pris_params.npz",
    shipped_sha256="2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296",
))


@register_method("niqe", family="handcrafted", display="NIQE", higher_is_better=False,
                 targets=("quality", "alignment", "mos"), assets=(NIQE_PARAMS.name,),
                 trained_on=("pristine-natural-images",),  # its model parameters (Mittal et al. 2013)
                 fidelity="faithful: equals the release run under Octave (6 images, 1e-13); within 0.6% of "
                          "MATLAB's own scores on 4 of pyiqa's calibration images, 5.7% on one with flat areas")
class NIQE(ScoreMethod):
    """NIQE (Mittal et al., IEEE SPL 2013) as the authors' MATLAB release computes it, with its pristine model."""

    feature_key = "niqe"  # shared with niqe-svr
    reference_cost = reference_cost("niqe")
    feature_version = niqe.VERSION

    def _pristine(self):
        if not hasattr(self, "pristine_"):
            self.pristine_ = niqe.read_pristine(resolve(NIQE_PARAMS.name))
        return self.pristine_

    def score(self, image, prompt):
        return niqe.score(np.asarray(image), *self._pristine())


CEIQ_MODEL = register_asset(Asset(
    name="ceiq-model",
    filename="model.mat",
    url="https://raw.githubusercontent.com/mtobeiyf/CEIQ/master/data/model.mat",
    sha256="f2c2300adbf6fbe09dfa46c5b05e47e8fb96c810f7b582344f6c3bf201e93d6d",
    description="CEIQ's regressor of the original release (LIBSVM epsilon-SVR, linear kernel, trained on CCID2014)",
))


@register_method("ceiq-release", family="handcrafted", display="CEIQ",
                 targets=("quality", "alignment", "mos"), assets=(CEIQ_MODEL.name,),
                 fidelity="faithful: reproduces the MATLAB scores in the release's README (3 images, 1.4e-5)")
class CEIQRelease(ScoreMethod):
    """CEIQ (Yan et al., 2019) as released: its five contrast features through the authors' trained SVR."""

    feature_key = "ceiq-release"
    reference_cost = reference_cost("ceiq")
    feature_version = f"{ceiq.VERSION}-{CEIQ_MODEL.sha256[:8]}"

    def _linear_model(self):
        """LIBSVM's linear-kernel SVR is w.x - rho with w = sv_coef' * SVs."""
        if not hasattr(self, "weights_"):
            from scipy.io import loadmat

            model = loadmat(resolve(CEIQ_MODEL.name), squeeze_me=True)["model"]
            kernel = int(model["Parameters"].item()[1])
            if kernel != 0:
                raise ValueError(f"CEIQ's model.mat has kernel type {kernel}; only the linear kernel (0) is supported")
            svs = model["SVs"].item()
            svs = svs.toarray() if hasattr(svs, "toarray") else np.asarray(svs)
            self.weights_ = (np.ravel(model["sv_coef"].item()) @ svs, -float(model["rho"].item()))
        return self.weights_

    def score(self, image, prompt):
        w, b = self._linear_model()
        return float(ceiq.extract(np.asarray(image)) @ w + b)


def _score(name: str, display: str, module: str, column: int, doc: str, fidelity: str):
    """A training-free score read from column ``column`` of a feature module's vector."""
    cls = type(name.upper().replace("-", "_"), (ModuleFeatures, ScoreMethod),
               {"feature_module": module, "score_column": column, "__doc__": doc,
                "reference_cost": reference_cost(module)})
    return register_method(name, family="handcrafted", display=display,
                           targets=("quality", "alignment", "mos"), fidelity=fidelity)(cls)


CEIQ_F1 = _score("ceiq", "CEIQ (f1)", "ceiq", 0,
                 "CEIQ's first feature alone: SSIM between the image and its histogram-equalised version.",
                 "approximation: one of CEIQ's five features, no regressor (the published CEIQ is ceiq-release)")
DSIQA = _score("dsiqa", "DSIQA", "cpbd", 0,
               "DSIQA as the paper cites it: CPBD sharpness (Narvekar & Karam, QoMEX 2009).",
               "reimplementation: equals the cpbd PyPI package (a port of the MATLAB release), not MATLAB")
SISBLIM = _score("sisblim", "SISBLIM (approx.)", "sisblim", -1,
                 "SISBLIM (Gu et al., TBC 2014) approximation: noise, free-energy blur and JPEG measures fused.",
                 "approximation: SISBLIM's six-step structure with stand-in components and our own fusion; "
                 "the original is MATLAB p-code")
