"""CNNIQA as Kang et al. describe it ("Convolutional Neural Networks for No-Reference Image
Quality Assessment", CVPR 2014), beside pyiqa's RGB whole-image variant (``cnniqa``):

* grayscale input, each 32x32 patch locally contrast-normalised: (I - mu) / (sigma + C) over
  a 3x3 window, C = 1 on the 0-255 scale (Kang et al. Sec. 3.2; lidq92/CNNIQA, the
  reimplementation pyiqa cites, applies C = 1 to 0-1 values instead);
* one 7x7 convolution with 50 kernels, global max and min pooling, two fully connected layers
  of 800 units with ReLU and dropout, one output;
* trained on patches, each labelled with its image's score, with the L1 loss (Kang et al.
  Sec. 3.5); each epoch draws ``train_patches`` random patches of each image (256, as many as
  a 512-px image has) where the reimplementation takes every patch once;
* an image's score is the mean of its non-overlapping 32x32 patches' scores.

This is the paper's "CNNIQA" row (pyiqa's RGB whole-image variant is ``cnniqa``). Kang et al.
train with SGD and momentum, but their learning rate and schedule could not be checked; the
optimiser settings are those of lidq92/CNNIQA (the reimplementation pyiqa cites): Adam, lr
1e-4, no weight decay, batch 128 patches, 500 epochs, L1.
"""

from __future__ import annotations

from bench.errors import BenchError
from bench.registry import register_method
from methods._pyiqa_catalog import pyiqa_licence
from methods.deep import TARGETS, JointTargets, pyiqa_contained, regression_head
from methods._reference_costs import training_reference_cost

PATCH = 32
LCN_WINDOW = 3
LCN_C = 1.0  # on the 0-255 scale
GRAY = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma, PIL's convert("L")


def local_contrast_normalise(gray):
    """(I - mean) / (std + C) over a 3x3 window; ``gray`` (N, 1, H, W) on the 0-255 scale.
    Edges are replicated, which for a 3x3 window is scipy's 'symm' boundary."""
    import torch.nn.functional as F

    padded = F.pad(gray, (1, 1, 1, 1), mode="replicate")
    mean = F.avg_pool2d(padded, LCN_WINDOW, stride=1)
    square = F.avg_pool2d(padded * padded, LCN_WINDOW, stride=1)
    std = (square - mean * mean).clamp_min(0).sqrt()
    return (gray - mean) / (std + LCN_C)


def grayscale(images):
    """(N, 3, H, W) RGB in [0, 1] -> (N, 1, H, W) luma on the 0-255 scale."""
    weights = images.new_tensor(GRAY).view(1, 3, 1, 1)
    return (images * weights).sum(1, keepdim=True) * 255.0


def patches_of(images, size: int = PATCH):
    """(N, C, H, W) -> (N, P, C, size, size): the non-overlapping patches, row by row."""
    n, c, h, w = images.shape
    if h < size or w < size:
        raise BenchError(f"cnniqa-kang needs images of at least {size}x{size} pixels, got {h}x{w}")
    tiles = images.unfold(2, size, size).unfold(3, size, size)  # N, C, rows, cols, size, size
    return tiles.permute(0, 2, 3, 1, 4, 5).reshape(n, -1, c, size, size)


@register_method("cnniqa-kang", family="deep", display="CNNIQA", trains=True, targets=TARGETS,
                 fidelity="reimplementation: Kang et al.'s preprocessing and patch scoring (grayscale, local "
                          "contrast normalisation, 32x32 patches, image score the patches' mean) around pyiqa's "
                          "CNNIQA network; not checked against the authors' code; departure: 256 random 32x32 "
                          "patches an image an epoch, where lidq92's code takes its fixed grid of non-overlapping "
                          "patches (225 on a 512-px image) once an epoch",
                 licence=pyiqa_licence())
class CNNIQAKang(JointTargets):
    """CNNIQA as its authors describe it: grayscale, local contrast normalisation, 32x32 patches."""
    reference_cost = training_reference_cost("cnniqa-kang")

    mean_std = None  # the network normalises its own input (local contrast normalisation)
    # Kang et al. (Sec. 3.5): the L1 loss; no flips (their patches are taken as they are). The
    # optimiser is lidq92's (lidq92/CNNIQA main.py:145, 214-221 at fb36830: Adam, lr 1e-3 (1e-4
    # before a2b7c0c, "lr = 0.001 is better than 0.0001"), weight decay 0, batch 128, 500 epochs
    # over every non-overlapping patch, L1, no schedule).
    defaults = {"loss": "l1", "hflip": False, "optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0,
                "batch_size": 128, "epochs": 500, "train_patches": 256}
    recipe_keys = ("train_patches",)
    # The demo at its native 256 px (64 patches an image; its defects vanish when shrunk to
    # the other networks' 64 px); one 32x32 patch a step is cheap, so more epochs (``full``).
    # The demo's default: one model for both targets and 8 epochs (reading the images
    # dominates a step, so this is what costs).
    presets = {"full": {"image_size": 256, "epochs": 20, "lr": 3e-4, "batch_size": 16, "train_patches": 1}}
    presets["demo"] = {**presets["full"], "epochs": 8, "joint_targets": True}

    def __init__(self, train_patches=1, **common):
        super().__init__(**common)
        self.train_patches = train_patches

    @classmethod
    def smoke_config(cls):
        return {**super().smoke_config(), "train_patches": 1}

    def build_model(self, n_outputs, pretrained):
        from pyiqa.archs import cnniqa_arch
        from torch import nn

        with pyiqa_contained(cnniqa_arch, False):
            model = cnniqa_arch.CNNIQA(pretrained=None)  # 7x7x50 conv, max+min pooling, 800-800 fc, dropout
        model.conv1 = nn.Conv2d(1, model.conv1.out_channels, model.conv1.kernel_size)
        if n_outputs != 1:
            model.fc3 = regression_head(model.fc3.in_features, n_outputs)
        return model

    def input_pixels(self, config):
        return PATCH ** 2, config.image_size ** 2  # trains on one patch a draw; predicts on all of the image's

    def transform(self, config, train):
        from torchvision import transforms as T

        steps = [T.Resize((config.image_size, config.image_size), interpolation=T.InterpolationMode.BICUBIC)]
        if train:
            steps.append(T.RandomCrop(PATCH))  # one random patch per image and epoch
        return T.Compose([*steps, T.ToTensor()])

    def forward(self, model, batch):
        images = batch["image"]
        if model.training:  # a batch of patches, each labelled with its image's score
            return model(local_contrast_normalise(grayscale(images))).reshape(len(images), -1)
        patches = patches_of(grayscale(images))  # N, P, 1, 32, 32
        n, p = patches.shape[:2]
        scores = model(local_contrast_normalise(patches.flatten(0, 1)))
        return scores.reshape(n, p, -1).mean(1)  # the image's score: the mean of its patches'
