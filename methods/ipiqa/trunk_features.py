"""Training on a frozen trunk's feature maps, computed once per image.

With ``freeze_trunk`` the image tower's stem and layers 1-4 never change, and without random
flips or crops each image always gives the same feature map. So the maps are computed once, in
inference, and the epochs run only what follows the trunk (the attention pools, the text tower
with its [QA] token, the head): the same model and updates as running the trunk every step.
They are held in memory: C x (size/32)^2 float32 an image (18 KB on the demo's stand-in at 96 px;
2 MB for RN50 at 512 px, so 2 GB a thousand images).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from bench.train.config import TrainConfig
from bench.train.loop import predict_model, uses_channels_last


class TrunkFeatureDataset:
    """Rows of a frame as {"image": the trunk's feature map, "prompt", "target"}."""

    def __init__(self, features: torch.Tensor, frame: pd.DataFrame, targets: np.ndarray | None = None):
        self.features = features
        self.prompts = frame["prompt"].fillna("").astype(str).tolist() if "prompt" in frame else [""] * len(frame)
        self.targets = torch.from_numpy(np.zeros((len(frame), 1), np.float32) if targets is None
                                        else np.asarray(targets, np.float32))

    def __len__(self):
        return len(self.prompts)

    def __getitem__(self, i):
        return {"image": self.features[i], "prompt": self.prompts[i], "target": self.targets[i]}


def trunk_features(model, images, config: TrainConfig, device: str) -> torch.Tensor:
    """The trunk's feature maps [N, C, h, w] of every image ``images`` yields, in its order."""
    # its own random stream: iterating a loader draws from torch's, which then feeds dropout
    with torch.random.fork_rng(devices=[]):
        maps = predict_model(model, lambda m, batch: m.image_features(batch["image"]), images, device,
                             config.amp, uses_channels_last(config, device))
    return torch.from_numpy(maps)


class ShuffleSampler(torch.utils.data.Sampler):
    """A new order every epoch from its own seeded generator, drawn as the image cache's
    sampler draws it (bench.train.cached_data), so both paths see the samples in one order."""

    def __init__(self, n: int, seed: int):
        self.n = n
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return self.n

    def __iter__(self):
        yield from torch.randperm(self.n, generator=self.generator).tolist()


def trunk_feature_loader(features: torch.Tensor, frame: pd.DataFrame, targets, batch_size: int, train: bool,
                         seed: int):
    data = TrunkFeatureDataset(features, frame, targets)
    sampler = ShuffleSampler(len(data), seed) if train else None
    # as the other loaders: a lone sample in a training batch is dropped (BatchNorm)
    return torch.utils.data.DataLoader(data, batch_size=batch_size, sampler=sampler,
                                       drop_last=train and len(data) > batch_size)
