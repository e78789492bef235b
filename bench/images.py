"""Reading images with errors a user can act on, and the size limits every reader shares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

from bench.errors import BenchError

ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, never silently padded

# The smallest side the handcrafted extractors accept (JPEG's 8x8 grid, CPBD's blocks, the
# two-scale pyramids); the deep methods resize and accept anything. `check` reports smaller
# images, so --drop-invalid can drop them. (NIQE needs 96 px: it says so, naming the image.)
MIN_IMAGE_SIDE = 16
# About 7000 x 7000: a decoded RGB image of 150 MB. An AGIQA image is ~0.3-1 Mpixel; a file
# claiming more is refused before it is decoded (an 8000 x 8000 one took 3.9 GB).
MAX_IMAGE_PIXELS = 50_000_000
# PIL's own guard for every other reader in the process (torchvision, pyiqa): it warns above
# this and refuses twice this.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS


class ImageReadError(BenchError):
    pass


def size_problem(width: int, height: int) -> str | None:
    """Why an image of this size is refused, or None."""
    if min(width, height) < MIN_IMAGE_SIDE:
        return f"{width}x{height} pixels: smaller than {MIN_IMAGE_SIDE} px on a side"
    if width * height > MAX_IMAGE_PIXELS:
        return f"{width}x{height} pixels: more than the {MAX_IMAGE_PIXELS // 1_000_000}-megapixel limit"
    return None


def load_rgb(path: str | Path) -> np.ndarray:
    """HxWx3 uint8 RGB array; raises ImageReadError naming the file on any failure.
    The size is checked from the header, before anything is decoded."""
    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise ImageReadError(f"cannot read image {path}: {size_problem(*img.size)}; downscale it")
            img.load()
            return np.asarray(img.convert("RGB"))
    except FileNotFoundError:
        raise ImageReadError(f"image not found: {path}") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageReadError(f"cannot read image {path}: {exc}") from None


def load_pil(path: str | Path) -> Image.Image:
    """PIL RGB image (for torchvision transforms), same errors as load_rgb."""
    return Image.fromarray(load_rgb(path))
