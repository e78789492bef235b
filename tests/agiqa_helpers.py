"""AGIQA-shaped data for tests and acceptance runs: the real label files from ../shared, laid
out as the official archives are, with generated placeholder images (the real images are
not available offline)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
LABEL_FILES = {"agiqa1k": ("AIGC_MOS_Zscore.xlsx", "AIGC_all.csv"), "agiqa3k": ("data.csv",)}
# The folder the images come in (IP-IQA's configs: AGIQA-1k 'images', AGIQA-3k 'AGIQA-3K').
IMAGE_FOLDERS = {"agiqa1k": "file", "agiqa3k": "AGIQA-3K"}


def archive_image_names(dataset: str) -> list[str]:
    """The images the official archive holds, as far as the label files tell: every
    well-formed name of any of the dataset's label files."""
    from bench.datasets.agiqa1k import prompt_from_name

    if dataset == "agiqa3k":
        return sorted(pd.read_csv(SHARED_DATASETS / "agiqa3k" / "data.csv")["name"])
    xlsx = pd.read_excel(SHARED_DATASETS / "agiqa1k" / "AIGC_MOS_Zscore.xlsx")["Image"]
    csv = pd.read_csv(SHARED_DATASETS / "agiqa1k" / "AIGC_all.csv")["Image"]
    return sorted({name for name in (*xlsx, *csv) if prompt_from_name(name)})


def write_placeholder_images(folder: Path, names, size: int = 32, quality=None, seed: int = 0) -> None:
    """One small JPEG per name: smooth random colour fields, blurred more where ``quality``
    (a score per name, 0-5) is lower, so that image statistics carry some of the score."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        base = ndimage.zoom(rng.uniform(0, 255, (4, 4, 3)), (size / 4, size / 4, 1), order=1)
        texture = rng.normal(0, 40, (size, size, 3))
        sigma = 0.0 if quality is None else max(0.0, 5.0 - float(quality[i])) * size / 64
        texture = ndimage.gaussian_filter(texture, sigma=(sigma, sigma, 0))
        Image.fromarray(np.clip(base + texture, 0, 255).astype(np.uint8)).save(folder / name, quality=90)


def agiqa_root(dest: Path, dataset: str, labels: tuple[str, ...] | None = None, size: int = 32,
               with_quality: bool = False) -> Path:
    """``dest`` laid out like the unpacked official dataset: label file(s) at the top,
    placeholder images in the archive's image folder."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in labels or LABEL_FILES[dataset]:
        shutil.copyfile(SHARED_DATASETS / dataset / name, dest / name)
    names = archive_image_names(dataset)
    quality = None
    if with_quality:
        from bench.datasets import load_dataset

        frame = load_dataset(dataset, dest).frame.drop_duplicates("image").set_index("image")
        score = frame["mos" if dataset == "agiqa1k" else "mos_quality"]
        quality = [score.get(name, 2.5) for name in names]
    write_placeholder_images(dest / IMAGE_FOLDERS[dataset], names, size, quality)
    return dest
