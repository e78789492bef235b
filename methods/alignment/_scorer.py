"""What the training-free (image, prompt) scorers share: batching, the model cache,
the checkpoint resolution and CLIP's image preprocessing."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from functools import lru_cache

import numpy as np

from bench.images import load_rgb
from bench.errors import BenchError
from bench.method import ScoreMethod

log = logging.getLogger("ipiqa_bench")

# CLIP's normalisation (OpenAI), also used by BLIP/ImageReward and HPS v1/v2.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# Config keys that change where or how fast a score is computed, not its value.
NOT_IN_FEATURE_KEY = ("device", "batch_size")


class PromptScorer(ScoreMethod):
    """A training-free scorer of (image, prompt) pairs that batches on its model.

    Subclasses implement ``weight_files()`` (each file option's value and its registered
    asset), ``build()`` (the loaded model, memoised per process and config, since the
    runner builds a fresh method object for every chunk of images) and
    ``score_batch(model, images, prompts)``.
    """

    feature_version = "1"
    batch_size = 16

    @property
    def feature_key(self) -> str:
        """Method name plus a digest of the scoring config, so features computed with
        other weights or options are never reused from the runner's cache."""
        config = {k: v for k, v in self.get_config().items() if k not in NOT_IN_FEATURE_KEY}
        digest = hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:10]
        return f"{self.method_name}-{digest}"

    def weight_files(self) -> dict:
        """{option: (value, Asset)}: value True means the official file through the resolver."""
        raise NotImplementedError

    def required_assets(self):
        return tuple(asset.name for value, asset in self.weight_files().values() if value is True)

    def weight_path(self, option: str) -> str | None:
        value, asset = self.weight_files()[option]
        return checkpoint_path(value, asset.name if value is True else "")

    def build(self):
        raise NotImplementedError

    def score_batch(self, model, images: list[np.ndarray], prompts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def loaded(self):
        config = json.dumps(self.get_config(), sort_keys=True, default=str)
        return _cached_model(type(self), config)

    def score(self, image, prompt):
        return float(self.score_batch(self.loaded(), [image], [prompt])[0])

    def features_of_rows(self, paths, prompts):
        model = self.loaded()
        scores = []
        for start in range(0, len(paths), max(1, int(self.batch_size))):
            chunk = slice(start, start + max(1, int(self.batch_size)))
            images = [load_rgb(p) for p in paths[chunk]]
            scores.append(np.asarray(self.score_batch(model, images, list(prompts[chunk])), dtype=float))
        return np.concatenate(scores)[:, None]


@lru_cache(maxsize=2)
def _cached_model(cls, config_json: str):
    return cls(**json.loads(config_json)).build()


def torch_device(name: str):
    import torch

    from bench.devices import resolve_device

    return torch.device(resolve_device(name))


def checkpoint_path(pretrained, asset_name: str) -> str | None:
    """The checkpoint a ``pretrained`` option names: True → the official file through the
    asset resolver, a path → that file, False → None (random initialisation, tests only)."""
    if pretrained is False:
        log.warning("building a randomly initialised model (pretrained=False): scores are meaningless")
        return None
    if pretrained is True:
        from bench.assets import resolve

        return str(resolve(asset_name))
    if not os.path.isfile(str(pretrained)):
        raise BenchError(f"checkpoint not found: {pretrained}")
    return str(pretrained)


def load_torch_checkpoint(path: str):
    """A published checkpoint's contents, read with ``torch.load(weights_only=True)``: a file
    that pickles objects besides tensors is refused (``CheckpointError`` names it)."""
    from bench.assets.safe_load import load_torch

    return load_torch(path, "checkpoint")


def clip_transform(size: int):
    """CLIP's evaluation preprocessing (OpenAI ``clip._transform``, also Hessel et al.'s
    CLIPScore, HPS v1 and ImageReward): bicubic resize of the short side, centre crop,
    CLIP normalisation."""
    from torchvision import transforms as T

    return T.Compose([
        T.Resize(size, interpolation=T.InterpolationMode.BICUBIC),
        T.CenterCrop(size),
        T.ToTensor(),
        T.Normalize(CLIP_MEAN, CLIP_STD),
    ])


def image_batch(images: list[np.ndarray], transform):
    """Stack HxWx3 uint8 arrays into one normalised batch through a PIL transform."""
    import torch
    from PIL import Image

    return torch.stack([transform(Image.fromarray(np.ascontiguousarray(img)).convert("RGB")) for img in images])
