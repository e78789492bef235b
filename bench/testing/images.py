"""Generated images and tiny datasets for tests: no network, no dataset download.

Public, so that a plugin's own tests can build the same inputs the contract check uses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

from bench.datasets.base import Dataset
from bench.targets import TARGET_COLUMN_KINDS, target_kind

# 96 px: NIQE's blocks are 96 px; networks resize to their smoke image size anyway.
CONTRACT_IMAGE_SIZE, CONTRACT_GROUPS, CONTRACT_PER_GROUP = 96, 8, 2
# AGIQA-3k's targets (one model per target for most networks: two are enough); a method
# predicting neither kind gets every registered column instead.
AGIQA3K_TARGETS = ("mos_quality", "mos_align")


def textured_image(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """A deterministic image with edges and texture (natural-scene-like statistics)."""
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.zeros((size, size, 3))
    for _ in range(6):
        fx, fy, phase = rng.uniform(1, 12), rng.uniform(1, 12), rng.uniform(0, 2 * np.pi)
        img += rng.uniform(0.2, 1.0, 3) * np.sin(2 * np.pi * (fx * x + fy * y) + phase)[..., None]
    img += (x > rng.uniform(0.2, 0.8))[..., None] * rng.uniform(-1, 1, 3)
    img = (img - img.min()) / np.ptp(img)
    return (img * 255).astype(np.uint8)


def write_image_set(folder: Path, n_groups: int = 10, per_group: int = 4, seed: int = 0) -> pd.DataFrame:
    """Images with a known quality (blur level) in a tiny AGIQA-like frame (column ``mos``)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for g in range(n_groups):
        base = textured_image(rng)
        for i in range(per_group):
            blur = rng.uniform(0, 3)
            img = ndimage.gaussian_filter(base.astype(float), sigma=(blur, blur, 0))
            name = f"img_{g:02d}_{i}.png"
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / name)
            rows.append({"image": name, "path": str(folder / name), "prompt": f"prompt {g}",
                         "group": str(g), "mos": 5 - blur + rng.normal(0, 0.1)})
    return pd.DataFrame(rows)


def write_contract_frame(folder: Path, seed: int = 0) -> pd.DataFrame:
    """Generated images with every registered target column and a prompt per group."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(CONTRACT_GROUPS):
        for i in range(CONTRACT_PER_GROUP):
            name = f"img_{g}_{i}.png"
            Image.fromarray(textured_image(rng, CONTRACT_IMAGE_SIZE)).save(folder / name)
            rows.append({"image": name, "path": str(folder / name), "prompt": f"a red cat on a chair, style {g}",
                         "group": str(g), **{t: float(rng.normal(3, 1)) for t in TARGET_COLUMN_KINDS}})
    return pd.DataFrame(rows)


def contract_dataset(frame: pd.DataFrame, kinds: tuple[str, ...]) -> Dataset:
    """The dataset a method predicting score ``kinds`` is checked on: AGIQA-3k's targets of
    those kinds, or every registered target column if it predicts neither."""
    targets = [t for t in AGIQA3K_TARGETS if target_kind(t) in kinds] or list(TARGET_COLUMN_KINDS)
    return Dataset("contract", frame, tuple(targets), Path(frame["path"].iloc[0]).parent)
