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

from bench.train.cached_data import AugmentingSampler
from bench.train.config import TrainConfig
from bench.train.loop import predict_model, prompts_and_targets, uses_channels_last


class TrunkFeatureDataset:
    """Rows of a frame as {"image": the trunk's feature map, "prompt", "target"}, indexed by the
    image cache's sampler keys (index, flip, top, left); only the index applies here."""

    def __init__(self, features: torch.Tensor, frame: pd.DataFrame, targets: np.ndarray | None = None):
        self.features = features
        prompts, values = prompts_and_targets(frame, targets)
        self.prompts, self.targets = prompts, torch.from_numpy(values)

    def __len__(self):
        return len(self.prompts)

    def __getitem__(self, key):
        i = key[0]
        return {"image": self.features[i], "prompt": self.prompts[i], "target": self.targets[i]}


def trunk_features(model, images, config: TrainConfig, device: str) -> torch.Tensor:
    """The trunk's feature maps [N, C, h, w] of every image ``images`` yields, in its order."""
    # its own random stream: iterating a loader draws from torch's, which then feeds dropout
    with torch.random.fork_rng(devices=[]):
        maps = predict_model(model, lambda m, batch: m.image_features(batch["image"]), images, device,
                             config.amp, uses_channels_last(config, device))
    return torch.from_numpy(maps)


def trunk_feature_loader(features: torch.Tensor, frame: pd.DataFrame, targets, batch_size: int, train: bool,
                         seed: int):
    data = TrunkFeatureDataset(features, frame, targets)
    # the image cache's sampler, without flips or crops: the same order as training from the images
    sampler = AugmentingSampler(len(data), features.shape[-1], shuffle=train, flip=False, crop=None, seed=seed)
    # as the other loaders: a lone sample in a training batch is dropped (BatchNorm)
    return torch.utils.data.DataLoader(data, batch_size=batch_size, sampler=sampler,
                                       drop_last=train and len(data) > batch_size)
