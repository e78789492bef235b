"""PickScore (Kirstain et al., NeurIPS 2023, "Pick-a-Pic: An Open Dataset of User
Preferences for Text-to-Image Generation"): CLIP ViT-H/14 fine-tuned on Pick-a-Pic
preferences, released as the transformers ``CLIPModel`` ``yuvalkirstain/PickScore_v1``.

Scored as the authors' published ``calc_probs`` before its softmax (github.com/yuvalkirstain/
PickScore, and the model card): the processor of ``laion/CLIP-ViT-H-14-laion2B-s32B-b79K``
(CLIP's image preprocessing: bicubic resize of the short side, centre crop, CLIP
normalisation; CLIP's BPE tokens, truncated to 77), ``logit_scale.exp() * cos(text, image)``.
That processor is transformers' default ``CLIPImageProcessor`` and OpenAI's CLIP vocabulary,
which open_clip ships, so the only files fetched are the model's weights and config.
"""

from __future__ import annotations

import gzip
from functools import lru_cache

from bench.assets import Asset, register_asset
from bench.errors import BenchError
from bench.registry import register_method
from methods.alignment._scorer import PromptScorer, torch_device

_HF = "https://huggingface.co/yuvalkirstain/PickScore_v1/resolve/main"
# Every hub repository names its files model.safetensors and config.json: saved under the repository's name.
WEIGHTS = register_asset(Asset(
    name="pickscore-v1", filename="PickScore_v1.safetensors", url=f"{_HF}/model.safetensors",
    description="PickScore v1 weights (transformers CLIPModel, ViT-H/14); save model.safetensors under this name"))
CONFIG = register_asset(Asset(
    name="pickscore-v1-config", filename="PickScore_v1.config.json", url=f"{_HF}/config.json",
    description="PickScore v1's CLIPConfig; save config.json under this name"))
MAX_TOKENS = 77


@register_method("pickscore", family="alignment", display="PickScore", uses_prompt=True,
                 targets=("alignment", "mos"), assets=(WEIGHTS.name, CONFIG.name), licence="MIT code; weights: none stated",
                 trained_on=("pickapic-v1", "laion2b"),  # Kirstain et al., NeurIPS 2023 (paper)
                 fidelity="faithful: equals the published calc_probs scores before the softmax on a random-initialised "
                          "CLIP of the same shape (1e-4)")
class PickScore(PromptScorer):
    """PickScore (Kirstain et al., NeurIPS 2023): logit_scale · cos(image, prompt) under CLIP-H fine-tuned on Pick-a-Pic."""

    def __init__(self, pretrained=True, config=None, batch_size=16, device="auto"):
        self.pretrained = pretrained
        self.config = config  # None: the official config.json through the asset resolver
        self.batch_size = batch_size
        self.device = device

    def weight_files(self):
        return {"pretrained": (self.pretrained, WEIGHTS), "config": (self.config or True, CONFIG)}

    def build(self):
        from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

        device = torch_device(self.device)
        config = CLIPConfig.from_json_file(self.weight_path("config"))
        network = CLIPModel(config)
        path = self.weight_path("pretrained")
        if path is not None:
            _load_weights(network, path)
        size = config.vision_config.image_size  # 224 for PickScore, as the laion processor's
        processor = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
        return network.float().eval().to(device), clip_tokenizer(), processor, device

    def score_batch(self, model, images, prompts):
        import torch
        from PIL import Image

        network, tokenizer, processor, device = model
        pixels = processor(images=[Image.fromarray(img).convert("RGB") for img in images], return_tensors="pt")
        tokens = tokenizer(list(prompts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        with torch.no_grad():
            image = _features(network.get_image_features(pixel_values=pixels["pixel_values"].to(device)))
            text = _features(network.get_text_features(input_ids=tokens["input_ids"].to(device),
                                                       attention_mask=tokens["attention_mask"].to(device)))
            image = image / image.norm(dim=-1, keepdim=True)
            text = text / text.norm(dim=-1, keepdim=True)
            return (network.logit_scale.exp() * (image * text).sum(-1)).cpu().numpy()


def _features(output):
    """transformers < 5 returns the projected embeddings, 5 returns them as ``pooler_output``."""
    return output if hasattr(output, "norm") else output.pooler_output


def _load_weights(network, path: str) -> None:
    from safetensors.torch import load_file

    state = {k: v for k, v in load_file(path).items() if not k.endswith("position_ids")}  # older buffers
    missing, unexpected = network.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise BenchError(f"{path} does not fit PickScore's CLIPModel: missing {sorted(missing)[:5]}, "
                         f"unexpected {sorted(unexpected)[:5]}")


@lru_cache(maxsize=1)
def clip_tokenizer():
    """CLIP's BPE tokenizer (the laion ViT-H/14 processor's) built from open_clip's copy of
    OpenAI's merges, in the token order of OpenAI's ``SimpleTokenizer``."""
    from open_clip.tokenizer import bytes_to_unicode, default_bpe
    from transformers import CLIPTokenizer

    with gzip.open(default_bpe(), "rt", encoding="utf-8") as f:
        merges = f.read().split("\n")[1:49152 - 256 - 2 + 1]
    pairs = [tuple(m.split()) for m in merges]
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(p) for p in pairs]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={token: i for i, token in enumerate(vocab)}, merges=pairs)
