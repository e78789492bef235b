"""The CLIP an IP-IQA stage starts from, and a record of where its weights came from.

RN50 takes OpenAI's weights through the asset resolver; the small configuration has no
published weights (the demo trains its own stand-in). Random initialisation happens only
when asked for explicitly (tests), and is recorded as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from bench.assets.weights import CLIP_RN50_OPENAI
from bench.errors import BenchError
from bench.files import file_sha256
from methods.ipiqa.model import CONFIGS, build_clip


@dataclass
class BaseClip:
    model: torch.nn.Module
    config: str  # "RN50" or "small"
    identity: dict = field(default_factory=dict)  # {"weights", "sha256"} or {"random_init", "seed"}

    @property
    def random_init(self) -> bool:
        return bool(self.identity.get("random_init"))


def load_base_clip(config: str, weights: str | Path | None = None, random_init: bool = False,
                   seed: int = 0) -> BaseClip:
    """``config``'s CLIP from ``weights``, OpenAI's RN50 file by default, or random (tests)."""
    if config not in CONFIGS:
        raise BenchError(f"unknown CLIP configuration {config!r}; expected one of {', '.join(CONFIGS)}")
    if random_init:
        if weights is not None:
            raise BenchError("give either CLIP weights or random initialisation, not both")
        torch.manual_seed(seed)
        return BaseClip(build_clip(config), config, {"random_init": True, "seed": seed})
    if weights is None:
        if config != "RN50":
            raise BenchError(f"the {config} CLIP has no published weights: pass a checkpoint "
                             "(the demo's stand-in comes from `ipiqa-bench pretrain demo`)")
        from bench.assets import resolve

        weights = resolve(CLIP_RN50_OPENAI.name)  # AssetMissing names the file, URL and cache path
    weights = Path(weights)
    try:
        model = build_clip(config, str(weights))
    except (FileNotFoundError, ValueError) as exc:
        raise BenchError(str(exc)) from None
    return BaseClip(model, config, {"weights": str(weights), "sha256": file_sha256(weights)})
