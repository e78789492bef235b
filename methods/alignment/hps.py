"""Human Preference Scores: cosine similarity of a preference-fine-tuned CLIP's image and
text embeddings.

* HPS (v1; Wu et al., ICCV 2023, "Better aligning text-to-image models with human
  preference", the IP-IQA paper's reference [24]): OpenAI CLIP ViT-L/14 fine-tuned into
  the human preference classifier ``hpc.pt`` (github.com/tgxs002/align_sd). Scored as the
  authors' ``evaluate_hps.py``: CLIP preprocessing, CLIP tokens, cos(image, text).
* HPS v2 (Wu et al., arXiv 2306.09341; github.com/tgxs002/HPSv2): open_clip ViT-H-14
  fine-tuned on HPD v2. Scored as ``hpsv2.score``: the image is scaled so its longer side
  is 224 and padded to a square with zeros (its ``ResizeMaxSize`` on the tensor), CLIP
  normalisation, cos(image, text).

Both run in float32 (the publishers' scripts use float16 weights or autocast on CUDA).
"""

from __future__ import annotations

from bench.assets import Asset, register_asset
from bench.errors import BenchError
from bench.registry import register_method
from methods._reference_costs import prediction_reference_cost
from methods.alignment._scorer import CLIP_MEAN, CLIP_STD, image_batch
from methods.alignment.clipscore import OpenClipScorer, clip_cosine

HPC = register_asset(Asset(
    name="hps-v1-hpc",
    filename="hpc.pt",
    url="https://mycuhk-my.sharepoint.com/:u:/g/personal/1155172150_link_cuhk_edu_hk/"
        "EWDmzdoqa1tEgFIGgR5E7gYBTaQktJcxoOYRoTHWzwzNcw?e=b7rgYW",
    description="HPS v1 human preference classifier (CLIP ViT-L/14), OneDrive link of github.com/tgxs002/align_sd",
    manual=True,
))
HPS_V2 = {
    version: register_asset(Asset(
        name=f"hps-{version}",
        filename=filename,
        url=f"https://huggingface.co/xswu/HPSv2/resolve/main/{filename}",
        description=f"HPS {version} (open_clip ViT-H-14 fine-tuned on HPD v2)",
    ))
    for version, filename in (("v2.0", "HPS_v2_compressed.pt"), ("v2.1", "HPS_v2.1_compressed.pt"))
}


@register_method("hps", family="alignment", display="HPS", uses_prompt=True, targets=("alignment", "mos"),
                 assets=(HPC.name,),
                 trained_on=("hpd-v1",),  # Wu et al., ICCV 2023 (paper): HPD v1 on CLIP ViT-L/14
                 fidelity="faithful: equals align_sd's evaluate_hps scoring (tests/test_alignment.py)")
class HPS(OpenClipScorer):
    """HPS v1 (Wu et al., ICCV 2023): cos(image, prompt) under the preference-tuned CLIP ViT-L/14."""

    reference_cost = prediction_reference_cost("hps")
    def __init__(self, pretrained=True, model="ViT-L-14-quickgelu", batch_size=16, device="auto"):
        self.pretrained = pretrained
        self.model = model
        self.batch_size = batch_size
        self.device = device

    def weight_files(self):
        return {"pretrained": (self.pretrained, HPC)}

    def score_batch(self, model, images, prompts):
        import torch

        network, tokenizer, transform, device = model
        with torch.no_grad():
            return clip_cosine(network, image_batch(images, transform).to(device), tokenizer(prompts).to(device))


@register_method("hpsv2", family="alignment", display="HPS v2", uses_prompt=True, targets=("alignment", "mos"),
                 assets=(HPS_V2["v2.0"].name,),
                 trained_on=("hpd-v2",),  # Wu et al., arXiv 2306.09341 (paper)
                 fidelity="variant: not in the paper (its HPS is v1); equals the published hpsv2 package's score")
class HPSv2(HPS):
    """HPS v2 (Wu et al., 2023): cos(image, prompt) under the preference-tuned open_clip ViT-H-14."""

    reference_cost = prediction_reference_cost("hpsv2")
    def __init__(self, pretrained=True, version="v2.0", model="ViT-H-14", batch_size=16, device="auto"):
        super().__init__(pretrained, model, batch_size, device)
        self.version = version

    def weight_files(self):
        if self.version not in HPS_V2:
            raise BenchError(f"unknown HPS version {self.version!r}; expected one of {', '.join(HPS_V2)}")
        return {"pretrained": (self.pretrained, HPS_V2[self.version])}

    def transform(self, size):
        return hpsv2_transform(size)


def hpsv2_transform(size: int):
    """HPS v2's evaluation preprocessing: to tensor, longer side to ``size`` (bicubic,
    antialiased as torchvision ≥ 0.17 does by default), zero padding to a centred square,
    CLIP normalisation."""
    from torchvision import transforms as T
    from torchvision.transforms import functional as F

    def resize_max_size(tensor):
        height, width = tensor.shape[-2:]
        scale = size / max(height, width)
        if scale == 1.0:
            return tensor
        new_h, new_w = round(height * scale), round(width * scale)
        tensor = F.resize(tensor, [new_h, new_w], T.InterpolationMode.BICUBIC, antialias=True)
        pad_h, pad_w = size - new_h, size - new_w
        return F.pad(tensor, [pad_w // 2, pad_h // 2, pad_w - pad_w // 2, pad_h - pad_h // 2], fill=0)

    return T.Compose([T.ToTensor(), resize_max_size, T.Normalize(CLIP_MEAN, CLIP_STD)])
