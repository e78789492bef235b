"""ImageReward's network (Xu et al., NeurIPS 2023; github.com/THUDM/ImageReward, package
``image-reward`` 1.5) rebuilt from transformers' BLIP modules, which port the same BLIP code.

The published model is BLIP's ViT-L/16 image encoder (224 px, LayerNorm eps 1e-6), BLIP's
BERT text encoder with cross-attention to every image token (``med_config.json``), and an
MLP on the text encoder's [CLS] output, standardised with the training set's mean and std:

    reward = (MLP(BERT(prompt, cross-attending to ViT(image))[CLS]) - mean) / std

The published package cannot be installed next to this harness (it pins timm 0.6.13 and
imports helpers that transformers 5 removed), so ``load_published_state_dict`` maps its
checkpoint's names onto these modules; tests/test_alignment.py checks the result against
outputs of the published code.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import torch
from torch import nn

from bench.errors import BenchError

# ImageReward.py: self.mean, self.std (the reward distribution of its training set).
REWARD_MEAN = 0.16717362830052426
REWARD_STD = 1.0333394966054072
MAX_TEXT_TOKENS = 35  # ImageReward.score(): padding="max_length", truncation, max_length=35
# BLIP's create_vit(): ViT-B/16 or ViT-L/16 (ImageReward uses "large"), patch 16, MLP ratio 4.
VIT_SIZES = {"base": {"width": 768, "depth": 12, "heads": 12}, "large": {"width": 1024, "depth": 24, "heads": 16}}


def vision_size(vit) -> dict:
    """A BLIP ViT size: "base", "large" or a dict with width, depth and heads."""
    if isinstance(vit, str):
        if vit not in VIT_SIZES:
            raise BenchError(f"unknown BLIP ViT size {vit!r}; expected one of {', '.join(VIT_SIZES)} or a dict")
        return VIT_SIZES[vit]
    return {key: int(vit[key]) for key in ("width", "depth", "heads")}


class BLIPReward(nn.Module):
    """ViT image encoder → BERT with cross-attention → [CLS] → MLP → standardised reward."""

    def __init__(self, med_config: dict, vit="large", image_size: int = 224):
        super().__init__()
        from transformers import BlipTextConfig, BlipTextModel, BlipVisionConfig, BlipVisionModel

        size = vision_size(vit)
        self.visual = BlipVisionModel(BlipVisionConfig(
            hidden_size=size["width"], intermediate_size=4 * size["width"], num_hidden_layers=size["depth"],
            num_attention_heads=size["heads"], image_size=image_size, patch_size=16, hidden_act="gelu",
            layer_norm_eps=1e-6, attention_dropout=0.0))
        hidden = med_config["hidden_size"]
        self.text = BlipTextModel(BlipTextConfig(
            vocab_size=med_config["vocab_size"], hidden_size=hidden, encoder_hidden_size=size["width"],
            intermediate_size=med_config["intermediate_size"], num_hidden_layers=med_config["num_hidden_layers"],
            num_attention_heads=med_config["num_attention_heads"],
            max_position_embeddings=med_config["max_position_embeddings"],
            hidden_act=med_config.get("hidden_act", "gelu"), layer_norm_eps=med_config.get("layer_norm_eps", 1e-12),
            pad_token_id=med_config.get("pad_token_id", 0), bos_token_id=None, eos_token_id=None, sep_token_id=None,
            is_decoder=True,  # builds the cross-attention layers; forward(is_decoder=False) keeps attention bidirectional
        ), add_pooling_layer=False)
        # ImageReward.py's MLP (no activations between the linear layers, as published).
        self.mlp = nn.Sequential(nn.Linear(hidden, 1024), nn.Dropout(0.2), nn.Linear(1024, 128), nn.Dropout(0.2),
                                 nn.Linear(128, 64), nn.Dropout(0.1), nn.Linear(64, 16), nn.Linear(16, 1))

    def forward(self, pixels: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        image_embeds = self.visual(pixel_values=pixels).last_hidden_state
        image_mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=image_embeds.device)
        text = self.text(input_ids=input_ids, attention_mask=attention_mask, encoder_hidden_states=image_embeds,
                         encoder_attention_mask=image_mask, is_decoder=False).last_hidden_state
        reward = self.mlp(text[:, 0, :].float()).squeeze(-1)
        return (reward - REWARD_MEAN) / REWARD_STD


# Published name → name here (regular expressions applied in order; first match wins).
_RENAMES = [
    (r"^blip\.visual_encoder\.cls_token$", "visual.embeddings.class_embedding"),
    (r"^blip\.visual_encoder\.pos_embed$", "visual.embeddings.position_embedding"),
    (r"^blip\.visual_encoder\.patch_embed\.proj\.", "visual.embeddings.patch_embedding."),
    (r"^blip\.visual_encoder\.blocks\.(\d+)\.norm1\.", r"visual.encoder.layers.\1.layer_norm1."),
    (r"^blip\.visual_encoder\.blocks\.(\d+)\.norm2\.", r"visual.encoder.layers.\1.layer_norm2."),
    (r"^blip\.visual_encoder\.blocks\.(\d+)\.attn\.qkv\.", r"visual.encoder.layers.\1.self_attn.qkv."),
    (r"^blip\.visual_encoder\.blocks\.(\d+)\.attn\.proj\.", r"visual.encoder.layers.\1.self_attn.projection."),
    (r"^blip\.visual_encoder\.blocks\.(\d+)\.mlp\.", r"visual.encoder.layers.\1.mlp."),
    (r"^blip\.visual_encoder\.norm\.", "visual.post_layernorm."),
    (r"^blip\.text_encoder\.", "text."),
    (r"^mlp\.layers\.", "mlp."),
]
# In the published checkpoint but unused for the reward: BLIP's contrastive projections
# and the text encoder's position-id buffer.
_UNUSED = re.compile(r"^blip\.(vision_proj|text_proj)\.|position_ids$")


def convert_state_dict(published: dict) -> tuple[dict, list[str]]:
    """The published state dict under this module's names, and the keys left out."""
    converted, unknown = {}, []
    for key, value in published.items():
        if _UNUSED.search(key):
            continue
        for pattern, replacement in _RENAMES:
            if re.search(pattern, key):
                converted[re.sub(pattern, replacement, key)] = value
                break
        else:
            unknown.append(key)
    return converted, unknown


def load_published_state_dict(model: BLIPReward, published: dict, source: str) -> None:
    """Every weight of the network must come from the checkpoint (the published loader
    uses strict=False and would keep random weights silently); keys it does not use are
    reported and ignored, as the published loader does."""
    import logging

    converted, unknown = convert_state_dict(published)
    missing, unexpected = model.load_state_dict(converted, strict=False)
    if missing:
        raise BenchError(f"{source} is not an ImageReward checkpoint of this size: "
                         f"{len(missing)} weight(s) missing, e.g. {', '.join(missing[:3])}")
    ignored = unknown + list(unexpected)
    if ignored:
        logging.getLogger("ipiqa_bench").warning("%s: ignored %d unused key(s), e.g. %s", source, len(ignored),
                                                 ", ".join(ignored[:3]))


def read_med_config(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise BenchError(f"cannot read the BLIP text-encoder config {path}: {exc}") from None


def bert_tokenizer(vocab_path: str):
    """BLIP's tokenizer (blip.init_tokenizer): BERT base uncased WordPiece with [DEC] as
    the beginning-of-sequence token and [ENC] as an extra special token."""
    from transformers import BertTokenizer

    with tempfile.TemporaryDirectory() as folder:  # from_pretrained wants the name vocab.txt
        (Path(folder) / "vocab.txt").write_bytes(Path(vocab_path).read_bytes())
        tokenizer = BertTokenizer.from_pretrained(folder)
    if tokenizer.convert_tokens_to_ids("[CLS]") == tokenizer.unk_token_id:
        raise BenchError(f"{vocab_path} is not a BERT vocabulary (no [CLS] token)")
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    tokenizer.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    return tokenizer


def tokenize(tokenizer, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    tokens = tokenizer(prompts, padding="max_length", truncation=True, max_length=MAX_TEXT_TOKENS,
                       return_tensors="pt")
    return tokens["input_ids"], tokens["attention_mask"]
