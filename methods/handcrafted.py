"""The paper's handcrafted group: training-free scores correlated with MOS directly."""

from __future__ import annotations

import numpy as np

from bench.assets import Asset, register_asset, resolve
from bench.method import ScoreMethod
from bench.registry import register_method

NIQE_PARAMS = register_asset(Asset(
    name="niqe-params",
    filename="niqe_modelparameters.mat",
    url="https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main/niqe_modelparameters.mat",
    sha256="66357a10c2c38b9f5b13bbbd1d66f08dc1faf62f6e446c45d62b18a8150ada40",
    description="NIQE pristine-model parameters (mu_prisparam, cov_prisparam) of the original release",
))


@register_method("niqe", family="handcrafted", display="NIQE", higher_is_better=False,
                 targets=("quality", "alignment", "mos"), assets=(NIQE_PARAMS.name,))
class NIQE(ScoreMethod):
    """NIQE (Mittal et al., IEEE SPL 2013) through pyiqa, on the luminance channel."""

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

        tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0
        with torch.no_grad():
            return float(self._metric()(tensor).item())
