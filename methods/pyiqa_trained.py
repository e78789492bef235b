"""pyiqa architectures the field fine-tunes on AGIQA, trained in place per split.

* TOPIQ-NR (Chen et al., IEEE TIP 2024, "TOPIQ: A Top-down Approach from Semantics to
  Distortions for Image Quality Assessment"): pyiqa's ``CFANet`` (the authors' own code),
  no-reference, on timm's ImageNet ResNet-50, trained with the authors' recipe
  (chaofengc/IQA-PyTorch ``options/train/TOPIQ/train_TOPIQ_res50_koniq.yml`` at 01ae427, for
  KonIQ; docs/protocols.md cites each line): AdamW, lr 3e-5, weight decay 1e-5, batch 16,
  random 384-px crops and horizontal flips, MSE plus the Norm-in-Norm loss (``mse+nin``, added
  to the yml in 81edc66), MOS min-max normalised, the backbone's BatchNorm parameters frozen;
  tested on the whole image. Its lr: torch's CosineAnnealingLR with T_max 50 stepped once per
  EPOCH over the yml's ``total_epoch: 200`` (which overrides its ``total_iter: 20000``), so the
  lr falls to 0 by epoch 50, climbs back to 3e-5 by epoch 100, and so on (``cosine-periodic``,
  period 100 epochs; no hard restarts). Departure: the authors keep the best validation
  checkpoint; here the shared selection policy applies (``--selection``), so every row is
  compared the same way. 200 epochs is their KonIQ setting (they ship no AGIQA one).

MANIQA, LIQE and MUSIQ are not trainable rows yet: MANIQA's ViT-B/8 at its fixed 224 px and
MUSIQ's multi-scale patch tokens are too slow to test on a CPU, and LIQE trains on
scene and distortion labels AGIQA does not have.
"""

from __future__ import annotations

from bench.registry import register_method
from bench.train.torch_method import TorchMethod
from methods._pyiqa_catalog import pyiqa_licence
from methods._pyiqa_downloads import asset_for_url, redirected_downloads
from methods.deep import TARGETS, single_output
from methods._reference_costs import training_reference_cost

# timm's default "resnet50" weights, which pyiqa's CFANet asks for with pretrained=True.
RESNET50_TIMM = asset_for_url("https://huggingface.co/timm/resnet50.a1_in1k/resolve/main/model.safetensors",
                              "timm--resnet50.a1_in1k.safetensors")


@register_method("topiq-nr", family="deep", display="TOPIQ-NR", trains=True, targets=TARGETS,
                 assets=(RESNET50_TIMM.name,), licence=pyiqa_licence(),
                 fidelity="reimplementation: pyiqa's CFANet with the authors' KonIQ recipe through the shared loop "
                          "(MSE + NiN, per-epoch cosine T_max 50 over 200 epochs); the shared selection policy "
                          "instead of their best validation checkpoint")
class TopiqNR(TorchMethod):
    """TOPIQ-NR (Chen et al., TIP 2024): top-down semantic-to-distortion attention on ResNet-50, via pyiqa, trained per split."""
    reference_cost = training_reference_cost("topiq-nr")

    mean_std = None  # CFANet normalises its input itself
    # The authors' recipe (see the module docstring).
    defaults = {"optimizer": "adamw", "lr": 3e-5, "weight_decay": 1e-5, "batch_size": 16, "train_crop": 384,
                "loss": "mse+nin", "lr_schedule": "cosine-periodic", "lr_period": 50, "epochs": 200}
    # The demo's 256-px images: 128-px crops keep its defects at native resolution.
    presets = {"demo": {"image_size": 256, "train_crop": 128, "epochs": 5, "lr": 1e-4, "batch_size": 16}}

    def __init__(self, pretrained=True, **common):
        super().__init__(**common)
        self.pretrained = pretrained

    @classmethod
    def smoke_config(cls):
        return {**super().smoke_config(), "train_crop": 32}

    def build_model(self, n_outputs, pretrained):
        from pyiqa.archs.topiq_arch import CFANet

        single_output(self, n_outputs)  # a single score (num_class > 1 is a score distribution)
        with redirected_downloads():
            return CFANet(semantic_model_name="resnet50", use_ref=False, pretrained=False,
                          backbone_pretrain=pretrained, num_crop=1, num_attn_layers=1, block_pool="weighted_avg")
