"""Reading images with errors a user can act on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

from bench.errors import BenchError

ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, never silently padded


class ImageReadError(BenchError):
    pass


def load_rgb(path: str | Path) -> np.ndarray:
    """HxWx3 uint8 RGB array; raises ImageReadError naming the file on any failure."""
    try:
        with Image.open(path) as img:
            img.load()
            return np.asarray(img.convert("RGB"))
    except FileNotFoundError:
        raise ImageReadError(f"image not found: {path}") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageReadError(f"cannot read image {path}: {exc}") from None


def load_pil(path: str | Path) -> Image.Image:
    """PIL RGB image (for torchvision transforms), same errors as load_rgb."""
    return Image.fromarray(load_rgb(path))
