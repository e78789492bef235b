"""CLIPScore (Hessel et al., EMNLP 2021): w · max(cos(E_image, E_text), 0), w = 2.5.

As in the authors' reference code (github.com/jmhessel/clipscore): OpenAI CLIP ViT-B/32,
CLIP's evaluation preprocessing, every text prefixed with "A photo depicts ", truncated
to CLIP's 77 tokens. Any open_clip architecture can be used instead (``model``), with a
local checkpoint (``pretrained=<path>``). On the demo dataset the default model is
``demo-standin``: the small CLIP the demo trains contrastively on its own generated pairs
(methods.ipiqa.standin, stage 1), since no pretrained CLIP can be had offline.
"""

from __future__ import annotations

import numpy as np

from bench.assets import Asset, register_asset
from bench.errors import BenchError
from bench.registry import register_method
from methods._reference_costs import prediction_reference_cost
from methods.alignment._scorer import PromptScorer, clip_transform, image_batch, load_torch_checkpoint, torch_device

# The OpenAI release file Hessel et al. load (clip.load("ViT-B/32")); its URL carries its sha256.
OPENAI_CLIP = {
    "ViT-B-32": register_asset(Asset(
        name="clip-vit-b-32-openai",
        filename="ViT-B-32.pt",
        url="https://openaipublic.azureedge.net/clip/models/"
            "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
        sha256="40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
        description="OpenAI CLIP ViT-B/32 (TorchScript archive of the original release)",
    )),
}
WEIGHT = 2.5
PREFIX = "A photo depicts "
STANDIN = "demo-standin"  # the demo's own small CLIP: built locally, nothing to download


class OpenClipScorer(PromptScorer):
    """A scorer on an open_clip model (weights: the "pretrained" option); ``transform`` is
    its image preprocessing; ``score_batch`` gets (network, tokenizer, transform, device)."""

    @classmethod
    def smoke_config(cls):
        # open_clip's smallest ViT at random init (the official architectures take seconds to build)
        return {"model": "ViT-S-32", "pretrained": False, "batch_size": 4, "device": "cpu"}

    def transform(self, size: int):
        return clip_transform(size)

    def build(self):
        import open_clip

        device = torch_device(self.device)
        network = load_open_clip(self.model, self.weight_path("pretrained"), device)
        return network, open_clip.get_tokenizer(self.model), self.transform(input_size(network)), device


@register_method("clipscore", family="alignment", display="CLIPScore", uses_prompt=True,
                 targets=("alignment", "mos"), assets=(OPENAI_CLIP["ViT-B-32"].name,),
                 trained_on=("wit400m",),  # CLIP pre-training only (Radford et al. 2021; Hessel et al. 2021)
                 fidelity="faithful: equals Hessel et al.'s formula on OpenAI's CLIP release files (tests/test_alignment.py)")
class CLIPScore(OpenClipScorer):
    """CLIPScore (Hessel et al., EMNLP 2021): 2.5 · max(cos(CLIP image, CLIP text), 0)."""

    reference_cost = prediction_reference_cost("clipscore")
    # the stand-in the IP-IQA rows fine-tune under the same preset (methods.ipiqa.standin)
    presets = {"demo": {"model": STANDIN, "standin": "demo"}, "full": {"model": STANDIN, "standin": "full"}}
    miniature_presets = {"demo": "stand-in CLIP", "full": "stand-in CLIP"}

    def __init__(self, model="ViT-B-32", pretrained="openai", prefix=PREFIX, w=WEIGHT, batch_size=16,
                 device="auto", standin=None):
        self.model = model
        self.standin = standin  # which stand-in, when model is the demo's
        self.pretrained = pretrained
        self.prefix = prefix
        self.w = w
        self.batch_size = batch_size
        self.device = device


    @property
    def feature_version(self) -> str:
        if self.model != STANDIN:
            return "1"
        from methods.ipiqa.demo_clip import demo_clip_version

        return f"1-standin{demo_clip_version(self.standin)}"  # a retrained stand-in scores anew

    def local_files(self):
        if self.model != STANDIN:
            return {}
        from methods.ipiqa.demo_clip import demo_clip_state

        return {"stand-in CLIP": demo_clip_state(self.standin, image2prompt=False)}  # its CLIP stage alone

    def weight_files(self):
        if self.model == STANDIN:
            return {}
        if self.pretrained not in ("openai", True):
            return {"pretrained": (self.pretrained, None)}
        if self.model not in OPENAI_CLIP:
            raise BenchError(f"no OpenAI weights are registered for {self.model!r} (only "
                             f"{', '.join(OPENAI_CLIP)}); pass pretrained=<local checkpoint>")
        return {"pretrained": (True, OPENAI_CLIP[self.model])}

    def build(self):
        if self.model != STANDIN:
            return super().build()
        from methods.ipiqa.demo_clip import load_demo_clip

        device = torch_device(self.device)
        network, tokenizer = load_demo_clip(device, self.standin)
        return network, tokenizer, self.transform(input_size(network)), device

    def score_batch(self, model, images, prompts):
        import torch

        network, tokenizer, transform, device = model
        with torch.no_grad():
            cosine = clip_cosine(network, image_batch(images, transform).to(device),
                                 tokenizer([self.prefix + p for p in prompts]).to(device))
        return self.w * np.clip(cosine, 0, None)


def load_open_clip(name: str, path: str | None, device):
    """An open_clip model in eval mode, float32, from a local checkpoint (an OpenAI
    TorchScript release file or a state dict) or, with ``path=None``, randomly initialised."""
    import open_clip

    if name not in open_clip.list_models():
        raise BenchError(f"unknown open_clip model {name!r}")
    if path is None:
        network = open_clip.create_model(name, pretrained=None)
    else:
        from open_clip.model import build_model_from_openai_state_dict

        from bench.assets.safe_load import is_torchscript, read_openai_clip_state

        if is_torchscript(path):  # OpenAI's release files: read as data, rebuilt as open_clip does
            network = build_model_from_openai_state_dict(read_openai_clip_state(path), cast_dtype=None)
        else:
            network = open_clip.create_model(name, pretrained=None)
            load_weights(network, path, name)
    return network.float().eval().to(device)


def load_weights(network, path: str, name: str) -> None:
    """Load a published state dict strictly: every weight of the architecture, nothing else."""
    checkpoint = load_torch_checkpoint(path)
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else checkpoint
    state = {k.removeprefix("module."): v for k, v in state.items()}
    missing, unexpected = network.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise BenchError(f"{path} does not fit the {name} architecture: missing {_preview(missing)}, "
                         f"unexpected {_preview(unexpected)}")


def _preview(keys, n: int = 4) -> str:
    keys = list(keys)
    return "none" if not keys else ", ".join(keys[:n]) + (f" and {len(keys) - n} more" if len(keys) > n else "")


def input_size(network) -> int:
    size = network.visual.image_size  # an int for ResNet towers, a pair for ViTs
    return int(size[0] if isinstance(size, (tuple, list)) else size)


def clip_cosine(network, pixels, tokens) -> np.ndarray:
    """Cosine similarity of each image with its own text, as in the reference code."""
    import torch.nn.functional as F

    image = F.normalize(network.encode_image(pixels).float(), dim=-1)
    text = F.normalize(network.encode_text(tokens).float(), dim=-1)
    return (image * text).sum(-1).cpu().numpy()
