"""Pretrained files IP-IQA needs, registered with the one asset resolver (bench.assets)."""

from __future__ import annotations

from pathlib import Path

from bench.assets import Asset, cache_dir, register_asset

# OpenAI's own release of CLIP RN50 (a TorchScript archive); the URL is the one open_clip's
# pretrained registry uses, and OpenAI put the file's sha256 in its path.
_RN50_SHA256 = "afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762"
OPENAI_RN50 = register_asset(Asset(
    name="openai-clip-rn50",
    filename="RN50.pt",
    url=f"https://openaipublic.azureedge.net/clip/models/{_RN50_SHA256}/RN50.pt",
    sha256=_RN50_SHA256,
    description="OpenAI CLIP RN50 weights (ModifiedResNet-50 image tower, 12-layer text tower)",
))

# No Image2Prompt checkpoint is published (the public code ships only the loss): it is made
# here, by `ipiqa-bench pretrain image2prompt`, which writes to this path unless told otherwise.
def default_i2p_checkpoint(clip: str = "RN50") -> Path:
    return cache_dir() / "ipiqa" / f"image2prompt-{clip}.pt"
