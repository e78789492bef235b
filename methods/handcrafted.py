"""The paper's handcrafted group: training-free scores correlated with MOS directly."""

from __future__ import annotations

import numpy as np

from bench.assets import Asset, register_asset, resolve
from bench.method import ScoreMethod
from bench.registry import register_method
from methods._feature_sets import ModuleFeatures

NIQE_PARAMS = register_asset(Asset(
    name="niqe-params",
    filename="niqe_modelparameters.mat",
    url="https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main/niqe_modelparameters.mat",
    sha256="66357a10c2c38b9f5b13bbbd1d66f08dc1faf62f6e446c45d62b18a8150ada40",
    description="NIQE pristine-model parameters (mu_prisparam, cov_prisparam) of the original release",
))


NIQE_PATCH = 96  # NIQE's natural-scene statistics are taken over 96 x 96 patches


@register_method("niqe", family="handcrafted", display="NIQE", higher_is_better=False,
                 targets=("quality", "alignment", "mos"), assets=(NIQE_PARAMS.name,))
class NIQE(ScoreMethod):
    """NIQE (Mittal et al., IEEE SPL 2013) through pyiqa, on the luminance channel."""

    feature_key = "niqe"  # shared with niqe-svr
    feature_version = "pyiqa-1"

    def __init__(self, device="cpu"):
        self.device = device

    def _metric(self):
        if not hasattr(self, "metric_"):
            import pyiqa

            from bench.devices import resolve_device

            # pyiqa would download the parameters itself; hand it the resolved file instead.
            self.metric_ = pyiqa.create_metric("niqe", device=resolve_device(self.device),
                                               pretrained_model_path=str(resolve(NIQE_PARAMS.name)))
        return self.metric_

    def score(self, image, prompt):
        import torch

        height, width = np.asarray(image).shape[:2]
        if min(height, width) < NIQE_PATCH:  # pyiqa's error would be about tensor ranks
            raise ValueError(f"image too small ({height}x{width}); NIQE needs >= {NIQE_PATCH} px per side")
        # torch.tensor copies: decoded images may be read-only arrays
        tensor = torch.tensor(np.asarray(image)).permute(2, 0, 1)[None].float() / 255.0
        with torch.no_grad():
            return float(self._metric()(tensor).item())


def _score(name: str, display: str, module: str, column: int, doc: str):
    """A training-free score read from column ``column`` of a feature module's vector."""
    cls = type(display, (ModuleFeatures, ScoreMethod),
               {"feature_module": module, "score_column": column, "__doc__": doc})
    return register_method(name, family="handcrafted", display=display,
                           targets=("quality", "alignment", "mos"))(cls)


CEIQ = _score("ceiq", "CEIQ", "ceiq", 0,
              "CEIQ (Yan et al., 2019): SSIM between the image and its histogram-equalised version, training-free.")
DSIQA = _score("dsiqa", "DSIQA", "cpbd", 0,
               "DSIQA as the paper cites it: CPBD sharpness (Narvekar & Karam, QoMEX 2009).")
SISBLIM = _score("sisblim", "SISBLIM", "sisblim", -1,
                 "SISBLIM (Gu et al., TBC 2014) approximation: noise, free-energy blur and JPEG measures fused.")
