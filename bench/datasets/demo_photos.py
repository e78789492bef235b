"""Natural photographs behind and on the demo's objects, from scikit-image's bundled data.

Flat synthetic images look *more* natural to no-reference metrics such as NIQE once noise
is added, which inverts them. Cutting backgrounds and surface textures from real photos
gives the clean renders natural-image statistics, so blur, noise and JPEG move those
metrics the way they do on real images.

Only photographs that scikit-image ships in its wheel (``skimage/data``, no download) and
that are public domain or CC0, as their ``skimage.data`` docstrings state:

    astronaut  the astronaut Eileen Collins, NASA Great Images; public domain
    camera     Lav Varshney; CC0
    chelsea    the cat Chelsea, Stefan van der Walt; CC0
    grass      "Grass 01" by linolafett (DeviantArt); CC0
    gravel     CC0Textures "Gravel04"; CC0

(``brick`` and ``coffee``, also CC0, were left out: NIQE rated their clean crops far less
natural than the others, ~9 against ~4-6, which spread clean images as much as the
defects do.) They are used as luminance only: the demo's backgrounds must stay
near-neutral, so that the objects' colour is the only strong chroma in an image.
"""
from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files

import numpy as np
from PIL import Image

PHOTOS = ("astronaut", "camera", "chelsea", "grass", "gravel")


@cache
def photo_bank() -> tuple[np.ndarray, ...]:
    """The photos as float32 luminance in [0, 1] (Rec.709 weights on the stored values)."""
    folder = files("skimage") / "data"
    bank = []
    for name in PHOTOS:
        with Image.open(folder / f"{name}.png") as im:
            rgb = np.asarray(im.convert("RGB"), np.float32) / 255
        luma = rgb @ np.asarray([0.2126, 0.7152, 0.0722], np.float32)
        luma.setflags(write=False)
        bank.append(luma)
    return tuple(bank)


@cache
def bank_digest() -> str:
    """Identifies the photos' pixels: a scikit-image that changes them changes the demo."""
    h = hashlib.sha256()
    for luma in photo_bank():
        h.update(np.ascontiguousarray(luma).tobytes())
    return h.hexdigest()[:16]


def photo_crop(rng: np.random.Generator, size: int, zoom: tuple[float, float] = (0.45, 1.0)) -> np.ndarray:
    """A random square crop of a random photo, resampled to ``size`` px, randomly mirrored.

    ``zoom``: the crop's side as a fraction of the photo's shorter side (smaller = closer)
    for a 256 px image; smaller images crop proportionally less, so that the texture has
    the same scale in pixels at any size (as the defects do). Lanczos resampling filters
    the downscaled crops, so they carry no aliasing.
    """
    bank = photo_bank()
    luma = bank[rng.integers(len(bank))]
    h, w = luma.shape
    side = min(rng.uniform(*zoom) * size / 256, 1.0) * min(h, w)
    x0, y0 = rng.uniform(0, w - side), rng.uniform(0, h - side)
    mirror = rng.random() < 0.5
    out = Image.fromarray(luma, "F").resize((size, size), Image.Resampling.LANCZOS,
                                            box=(x0, y0, x0 + side, y0 + side))
    out = np.asarray(out, np.float32)
    return out[:, ::-1] if mirror else out
