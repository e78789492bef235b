"""Files IP-IQA needs besides OpenAI's CLIP RN50 (declared in bench.assets.weights)."""

from __future__ import annotations

from pathlib import Path

from bench.assets import cache_dir


def default_i2p_checkpoint(clip: str = "RN50") -> Path:
    """Where `ipiqa-bench pretrain image2prompt` writes, and the ipiqa*-i2p* methods look, by
    default. No Image2Prompt checkpoint is published (the public code ships only the loss),
    so it is made here rather than downloaded."""
    return cache_dir() / "ipiqa" / f"image2prompt-{clip}.pt"
