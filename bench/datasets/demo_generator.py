"""Offline demo dataset: a seeded, synthetic stand-in for AGIQA.

The real AGIQA images cannot be shipped, so the benchmark can generate a small dataset
with the same structure: prompts, several "generators" per prompt, a prompt-grouped
layout, and three MOS-like targets on a 1-5 scale. Everything is deterministic: the same
``DemoSpec`` gives byte-identical PNGs and ``labels.csv`` (same platform, Pillow and
scikit-image photos; spec.json records a digest of the photos).

Prompt grammar
    ``"<count> <colour> <object>s on a <background> background, <style> style"``, e.g.
    ``"three red stars on a striped background, flat style"``, with
    objects  circle, square, triangle, star, cross, ring, diamond, hexagon;
    colours  red, green, blue, yellow, purple, orange, cyan, pink (luminance ~0.5-0.6,
             so a wrong colour does not change contrast);
    counts   one to four; backgrounds plain, gradient, stripes, checker, texture (a
             pattern of light over a photo, see below); styles flat, outlined, shaded.
    The ``n_prompts`` prompts are unique, drawn in a seeded order among the 3840
    combinations, balanced (every value of every attribute used equally often, +-1),
    and a smaller spec gets a prefix of a larger one's prompts.
    Group id = prompt index; image ``<generator>_<prompt index>.png`` (as AGIQA-3k).

Clean render (version 2: looks like a photograph to no-reference metrics)
    Version 1 drew flat shapes on flat synthetic backgrounds; NIQE then rated noisy images
    as *more* natural (sign-adjusted SRCC with mos_quality about -0.5). Now every image
    has natural-image statistics before any defect:
    background  a random square crop of a public-domain / CC0 photograph shipped with
                scikit-image (``demo_photos``: astronaut, camera, chelsea, grass, gravel),
                rescaled, mirrored, used as luminance only, its contrast set by its fine
                detail (so texture is similar across photos), under the named pattern as
                a modulation of light (gradient, stripes, checker, smooth clouds), with a
                soft toe and shoulder instead of clipping and a slight colour cast
                (chroma < 0.1: the objects stay the only strongly coloured things);
    objects     crisp, anti-aliased, in their colour, lit from the upper left (strongly
                when "shaded"), their paint modulated by another photo's texture (sd 10%,
                multiplicative, so the hue holds), with a soft drop shadow;
    camera      vignetting. No lens blur: a 0.6 px one made clean renders look blurred
                to NIQE and SISBLIM.
    Texture keeps its scale in pixels at any image size (smaller images crop less of the
    photo). Measured on the default spec (3 splits): sign-adjusted NIQE and SISBLIM SRCC
    with mos_quality clearly positive, |SRCC| with mos_align small (README.md, "The demo
    dataset").

Simulated generators (each renders every prompt once)
    A generator has, per quality defect, a probability and a maximum severity (its
    defect family), and a rate at which each of colour / object / count is
    independently drawn wrong:

    ======  ===========  ==========================================  =============
    name    family       defects (probability, max severity)         mismatch rate
    ======  ===========  ==========================================  =============
    gen_a   clean        all rare and mild (0.15, 0.4)               0.15 careful
    gen_b   clean        all rare and mild (0.15, 0.4)               0.45 loose
    gen_c   optical      blur (0.8, 1), colour artefact (0.5, 1)     0.15 careful
    gen_d   optical      blur (0.8, 1), colour artefact (0.5, 1)     0.45 loose
    gen_e   digital      noise (0.7, 1), JPEG (0.7, 1)               0.15 careful
    gen_f   digital      noise (0.7, 1), JPEG (0.7, 1)               0.45 loose
    ======  ===========  ==========================================  =============

    (defects not listed: (0.15, 0.4)). Families and mismatch rates are crossed on
    purpose: if each generator had its own defect profile *and* its own mismatch rate,
    the kind of defect would reveal the generator and so its mismatch rate. Within an
    image, defects and mismatches are drawn independently, and the drawn (wrong)
    attribute is uniform over the other values, so the drawn content, hence every
    low-level statistic, has the same distribution whether or not the image matches its
    prompt. Image-only methods can see quality but not alignment. Keep the careful/loose
    pairs together when choosing a subset of generators, or this no longer holds.

Defects (applied in this order to the clean render; severity ``s`` in [0, 1], drawn
uniform in [0.15, 1] x the generator's maximum when the defect is active)
    colour_artefact  ``s``: saturation blow-out, R/B channel misregistration up to
                     4 px (at 256 px), posterisation down to 4 levels;
    blur             gaussian sigma = 3 s px (at 256 px, scaled with image size);
    noise            gaussian, sd = 30 s grey levels (of 255);
    jpeg_quality     real JPEG encode/decode with Pillow at quality round(50 - 45 s)
                     (100 in the labels = not compressed).
    Images are then stored as lossless PNG, so the files hold exactly these defects.

Targets
    ``quality_true = 4.8 - 3.6 D`` with damage ``D = 1 - prod_i(1 - w_i s_i)``, weights
    blur 1.0, noise 0.9, jpeg 0.9, colour 0.7; ``mos_quality`` adds rater noise (sd 0.2).
    ``align_true = 4.8 - 1.1 colour_mismatch - 1.5 object_mismatch - 0.9 count_mismatch``;
    ``mos_align`` adds rater noise (sd 0.25). ``mos = (mos_quality + mos_align) / 2``
    (like AGIQA-1k's single score). All three are clipped to [1, 5].

labels.csv columns
    image, prompt, group, generator, mos_quality, mos_align, mos, quality_true and
    align_true (before rater noise), blur (sigma in pixels of the stored image), noise,
    jpeg_quality, colour_artefact, colour_/object_/count_mismatch (0/1), n_mismatch,
    drawn_object, drawn_colour, drawn_count (what the image shows), and the prompt's
    parts object, colour, count, background, style (the keys ``render`` takes).

Seeding: every random draw comes from ``SeedSequence(seed, spawn_key=...)`` with a key
per purpose: (0,) prompt permutation, (1, prompt, generator, 0|1) image parameters and
pixels, (2, i) ``generate_pairs``. Generation is thus order-independent, ``plan_demo``
computes all labels without rendering, and pretraining pairs never share a stream with
the benchmark images.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

from bench.bars import progress_bar
from bench.datasets.demo_photos import bank_digest, photo_crop

GENERATOR_VERSION = "2"

# ----------------------------------------------------------------------------- grammar
OBJECTS = ("circle", "square", "triangle", "star", "cross", "ring", "diamond", "hexagon")
# Hand-picked so that Rec.709 luma stays in ~0.49-0.6: a wrong colour keeps the contrast.
COLOURS = {
    "red": (1.00, 0.35, 0.30), "green": (0.25, 0.68, 0.25), "blue": (0.40, 0.58, 1.00),
    "yellow": (0.72, 0.62, 0.05), "purple": (0.80, 0.40, 1.00), "orange": (0.95, 0.52, 0.10),
    "cyan": (0.10, 0.68, 0.72), "pink": (1.00, 0.42, 0.62),
}
COUNTS = (1, 2, 3, 4)
COUNT_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}
BACKGROUNDS = {"plain": "plain", "gradient": "gradient", "stripes": "striped",
               "checker": "checkered", "texture": "textured"}
STYLES = ("flat", "outlined", "shaded")


def prompt_text(parts: dict) -> str:
    """The prompt sentence for ``parts`` (keys object, colour, count, background, style)."""
    n, obj = int(parts["count"]), parts["object"]
    noun = obj if n == 1 else obj + ("es" if obj.endswith("ss") else "s")
    return (f"{COUNT_WORDS[n]} {parts['colour']} {noun} on a "
            f"{BACKGROUNDS[parts['background']]} background, {parts['style']} style")


# -------------------------------------------------------------------------- generators
@dataclass(frozen=True)
class GeneratorProfile:
    """Per defect (probability, max severity); ``mismatch``: per-attribute error rate."""
    blur: tuple[float, float]
    noise: tuple[float, float]
    jpeg: tuple[float, float]
    colour: tuple[float, float]
    mismatch: float


# Defect families. Each is used by a careful and a loose generator with the same two
# mismatch rates: any other pairing would let the defect type reveal the generator and
# hence its mismatch rate, i.e. make alignment predictable from pixels.
_FAMILIES = {
    "clean": {"blur": (0.15, 0.4), "noise": (0.15, 0.4), "jpeg": (0.15, 0.4),
              "colour": (0.10, 0.4)},
    "optical": {"blur": (0.80, 1.0), "noise": (0.15, 0.4), "jpeg": (0.15, 0.4),
                "colour": (0.50, 1.0)},
    "digital": {"blur": (0.15, 0.4), "noise": (0.70, 1.0), "jpeg": (0.70, 1.0),
                "colour": (0.10, 0.4)},
}
CAREFUL, LOOSE = 0.15, 0.45
GENERATOR_PROFILES: dict[str, GeneratorProfile] = {
    name: GeneratorProfile(**_FAMILIES[family], mismatch=rate)
    for name, family, rate in [
        ("gen_a", "clean", CAREFUL), ("gen_b", "clean", LOOSE),
        ("gen_c", "optical", CAREFUL), ("gen_d", "optical", LOOSE),
        ("gen_e", "digital", CAREFUL), ("gen_f", "digital", LOOSE)]
}
DEFECT_WEIGHTS = {"blur": 1.0, "noise": 0.9, "jpeg": 0.9, "colour": 0.7}
MISMATCH_PENALTIES = {"colour": 1.1, "object": 1.5, "count": 0.9}
_ATTRS = tuple(MISMATCH_PENALTIES)  # the attributes a generator can get wrong
QUALITY_RATER_SD, ALIGN_RATER_SD = 0.2, 0.25
_STREAM_PROMPTS, _STREAM_IMAGES, _STREAM_PAIRS = 0, 1, 2


@dataclass(frozen=True)
class DemoSpec:
    n_prompts: int = 100
    generators: tuple[str, ...] = tuple(GENERATOR_PROFILES)
    image_size: int = 256
    seed: int = 0


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _generator_key(name: str) -> int:
    # keyed by name, not position, so dropping a generator from the spec keeps the others
    return zlib.crc32(name.encode())


# ----------------------------------------------------------------------------- shapes
def _regular(n: int, radius: float, phase: float = np.pi / 2) -> np.ndarray:
    a = phase + 2 * np.pi * np.arange(n) / n
    return radius * np.stack([np.cos(a), np.sin(a)], 1)


def _star() -> np.ndarray:
    v = _regular(10, 1.0)
    v[1::2] *= 0.42
    return v


def _cross(a: float = 0.3, b: float = 0.9) -> np.ndarray:
    return np.array([(a, b), (-a, b), (-a, a), (-b, a), (-b, -a), (-a, -a),
                     (-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a)])


# Vertices in units of the object's radius (every shape fits in the unit disc).
_POLYGONS = {
    "square": _regular(4, 0.95, np.pi / 4), "triangle": _regular(3, 1.0),
    "star": _star(), "cross": _cross(), "hexagon": _regular(6, 0.95, 0.0),
    "diamond": np.array([(0.0, 1.0), (-0.6, 0.0), (0.0, -1.0), (0.6, 0.0)]),
}


def _polygon_sdf(x: np.ndarray, y: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signed distance to a polygon (negative inside), vectorised over pixels."""
    d2 = np.full(x.shape, np.inf)
    sign = np.ones(x.shape)
    for i in range(len(v)):
        (ax, ay), (bx, by) = v[i], v[i - 1]
        ex, ey, wx, wy = bx - ax, by - ay, x - ax, y - ay
        t = np.clip((wx * ex + wy * ey) / (ex * ex + ey * ey), 0.0, 1.0)
        d2 = np.minimum(d2, (wx - ex * t) ** 2 + (wy - ey * t) ** 2)
        c1, c2, c3 = y >= ay, y < by, ex * wy > ey * wx
        sign[(c1 & c2 & c3) | ~(c1 | c2 | c3)] *= -1
    return sign * np.sqrt(d2)


def _shape_sdf(obj: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if obj == "circle":
        return np.hypot(x, y) - 0.8
    if obj == "ring":
        return np.abs(np.hypot(x, y) - 0.68) - 0.2
    return _polygon_sdf(x, y, _POLYGONS[obj])


# Object centres (fractions of the image) and radius per count; slots never overlap.
_LAYOUTS = {
    1: ([(0.5, 0.5)], 0.30),
    2: ([(0.27, 0.5), (0.73, 0.5)], 0.18),
    3: ([(0.27, 0.3), (0.73, 0.3), (0.5, 0.73)], 0.165),
    4: ([(0.28, 0.28), (0.72, 0.28), (0.28, 0.72), (0.72, 0.72)], 0.165),
}


# ---------------------------------------------------------------------------- render
def _pattern(kind: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """The background's named pattern, as a multiplicative light modulation around 1."""
    t = (np.arange(size, dtype=np.float32) + 0.5) / size
    x, y = t[None, :], t[:, None]
    angle = rng.uniform(0, np.pi)
    u = x * np.cos(angle) + y * np.sin(angle)
    if kind == "plain":
        pattern = np.zeros((size, size), np.float32)
    elif kind == "gradient":  # a light falling off across the scene
        pattern = 0.8 * (u - 0.5 * (np.cos(angle) + np.sin(angle)))
    elif kind == "stripes":  # anti-aliased square wave, period 1/8 of the image
        pattern = 0.25 * np.clip(np.sin(2 * np.pi * 8 * u) * size / 16, -1, 1)
    elif kind == "checker":  # anti-aliased, 6 x 6 squares
        pattern = 0.25 * (np.clip(np.sin(2 * np.pi * 3 * x) * size / 12, -1, 1)
                          * np.clip(np.sin(2 * np.pi * 3 * y) * size / 12, -1, 1))
    elif kind == "texture":  # smooth clouds of light and shade
        k = rng.integers(-4, 5, (8, 2))
        a = 2 * np.pi * k[:, :1] * t + rng.uniform(0, 2 * np.pi, (8, 1))  # (8, size) in x
        b = 2 * np.pi * k[:, 1:] * t  # (8, size) in y; cos(a + b) is separable:
        # einsum, not BLAS: no thread start-up cost, and bit-identical on any machine
        pattern = (np.einsum("ky,kx->yx", np.cos(b), np.cos(a))
                   - np.einsum("ky,kx->yx", np.sin(b), np.sin(a))) * 0.1  # sd ~0.2
    else:
        raise ValueError(f"unknown background {kind!r}")
    return np.clip(1 + pattern, 0.3, 1.7).astype(np.float32)


def _standardised(photo: np.ndarray) -> np.ndarray:
    return (photo - photo.mean()) / max(float(photo.std()), 1e-3)


def _background(kind: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """A desaturated photo crop under the named pattern, dark and of moderate contrast,
    with a slight colour cast: natural texture everywhere, but no strong chroma."""
    photo = photo_crop(rng, size)
    # Contrast set by the fine detail (what is left after a 1 px blur), not by the overall
    # spread: grass and a face then carry similar pixel-scale texture, so the images differ
    # less in what blur and noise change, and the defects, not the photo, rank them.
    detail = float((photo - ndimage.gaussian_filter(photo, 1)).std())
    gain = np.clip(rng.uniform(0.01, 0.016) / max(detail, 1e-3), 0.1, 0.8)
    luma = rng.uniform(0.2, 0.3) + gain * (photo - photo.mean())
    luma = _tone(luma * _pattern(kind, rng, size))
    cast = rng.uniform(-0.06, 0.06, 3).astype(np.float32)  # chroma <= 0.65 * 0.12 < 0.1
    return luma[..., None] * (1 + cast - cast.mean())


def _tone(luma: np.ndarray, toe: float = 0.05, knee: float = 0.55) -> np.ndarray:
    """Soft toe and shoulder instead of clipping (a flat, clipped patch looks unnatural to
    NIQE); smooth at both joins, and the result stays in (0, knee + 0.1)."""
    out = np.where(luma < toe, toe * np.exp(np.minimum(luma, toe) / toe - 1), luma)
    return np.where(out > knee, knee + 0.1 * np.tanh((out - knee) / 0.1), out)


def _draw_object(layer: np.ndarray, alpha: np.ndarray, surface: np.ndarray, parts: dict,
                 centre, radius: float, rng: np.random.Generator) -> None:
    """Add one anti-aliased object to the premultiplied ``layer`` and its coverage to
    ``alpha`` (in place, on a local crop); ``surface``: its texture, around 1."""
    size = layer.shape[0]
    theta = rng.uniform(-np.pi / 12, np.pi / 12)  # small, so square and diamond stay apart
    r_px = radius * size
    cx, cy = centre[0] * size, centre[1] * size
    x0, x1 = max(int(cx - r_px) - 2, 0), min(int(cx + r_px) + 3, size)
    y0, y1 = max(int(cy - r_px) - 2, 0), min(int(cy + r_px) + 3, size)
    yy, xx = np.mgrid[y0:y1, x0:x1] + 0.5
    dx, dy = (xx - cx) / r_px, (cy - yy) / r_px  # y up, so triangles point up
    c, s = np.cos(theta), np.sin(theta)
    lx, ly = c * dx + s * dy, -s * dx + c * dy
    sdf = _shape_sdf(parts["object"], lx, ly) * r_px  # in pixels
    outer = np.clip(0.5 - sdf, 0, 1)[..., None]
    # every object is lit from the upper left; "shaded" ones strongly, as solid bodies
    relief = 0.3 if parts["style"] == "shaded" else 0.08
    light = 1 + relief * np.clip(-0.7 * lx + 0.7 * ly, -1, 1)
    fill = np.asarray(COLOURS[parts["colour"]]) * (light * surface[y0:y1, x0:x1])[..., None]
    if parts["style"] == "outlined":
        inner = np.clip(0.5 - (sdf + 0.016 * size), 0, 1)[..., None]
        obj = fill * inner + 0.45 * fill * (outer - inner)
    else:
        obj = fill * outer
    crop = alpha[y0:y1, x0:x1]
    layer[y0:y1, x0:x1] = layer[y0:y1, x0:x1] * (1 - outer) + obj
    crop[:] = np.maximum(crop, outer[..., 0])


def render(prompt_parts: dict, rng: np.random.Generator, size: int) -> np.ndarray:
    """A clean HxWx3 uint8 image of exactly what ``prompt_parts`` say.

    ``prompt_parts``: object, colour, count (int 1-4), background, style.
    """
    return _to_uint8(_render_float(prompt_parts, rng, size))


def _render_float(prompt_parts: dict, rng: np.random.Generator, size: int) -> np.ndarray:
    img = _background(prompt_parts["background"], rng, size)
    # objects: another photo's texture modulates their paint (sd 10%); multiplicative, so
    # it keeps their hue
    surface = np.clip(1 + 0.1 * _standardised(photo_crop(rng, size, (0.25, 0.6))), 0.7, 1.3)
    layer = np.zeros_like(img)
    alpha = np.zeros(img.shape[:2], np.float32)
    centres, radius = _LAYOUTS[int(prompt_parts["count"])]
    order = rng.permutation(len(centres))  # vary which slot gets which jitter
    for k in order:
        cx, cy = np.asarray(centres[k]) + rng.uniform(-0.03, 0.03, 2)
        _draw_object(layer, alpha, surface, prompt_parts, (cx, cy),
                     radius * rng.uniform(0.92, 1.0), rng)
    # a soft shadow down-right of the objects, then the objects over the background
    scale = size / 256
    d = max(round(4 * scale), 1)
    shadow = np.zeros_like(alpha)
    shadow[d:, d:] = alpha[:-d, :-d]
    width = 2 * round(3.5 * scale) + 1  # two box filters: a cheap gaussian, sd ~3.7 px
    shadow = ndimage.uniform_filter(ndimage.uniform_filter(shadow, width), width)
    img = img * (1 - 0.45 * shadow)[..., None] * (1 - alpha)[..., None] + layer
    # the camera's vignetting. No lens blur: even a 0.6 px one made the clean renders look
    # blurred to NIQE and SISBLIM and shrank what the defects change
    t = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    r2 = (t[None, :] ** 2 + t[:, None] ** 2) * 2  # 1 in the corners
    img = img * (1 - rng.uniform(0.1, 0.35) * r2)[..., None]
    return img.astype(np.float32)


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- defects
def _colour_artefact(img: np.ndarray, s: float, size: int) -> np.ndarray:
    grey = img.mean(axis=2, keepdims=True)
    img = np.clip(grey + (img - grey) * (1 + 1.5 * s), 0, 1)  # saturation blow-out
    shift = 4.0 * s * size / 256  # R and B misregistered in opposite directions
    img[..., 0] = ndimage.shift(img[..., 0], (0, shift), order=1, mode="nearest")
    img[..., 2] = ndimage.shift(img[..., 2], (0, -shift), order=1, mode="nearest")
    levels = round(4 + 28 * (1 - s))  # posterisation
    return np.round(img * (levels - 1)) / (levels - 1)


def apply_defects(img: np.ndarray, row: dict, rng: np.random.Generator) -> np.ndarray:
    """Degrade a clean float image in [0, 1] with the defects of a label row; uint8 out."""
    size = img.shape[0]
    if row["colour_artefact"] > 0:
        img = _colour_artefact(img, row["colour_artefact"], size)
    if row["blur"] > 0:
        img = ndimage.gaussian_filter(img, (row["blur"], row["blur"], 0))
    if row["noise"] > 0:
        img = img + rng.standard_normal(img.shape, dtype=np.float32) * (row["noise"] / 255)
    out = _to_uint8(img)
    if row["jpeg_quality"] < 100:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=int(row["jpeg_quality"]))
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return out


# ------------------------------------------------------------------------------ plan
_AXES = {"object": OBJECTS, "colour": tuple(COLOURS), "count": COUNTS,
         "background": tuple(BACKGROUNDS), "style": STYLES}


def demo_prompts(n_prompts: int, seed: int) -> list[dict]:
    """``n_prompts`` unique prompts, balanced: each value of each attribute is used
    equally often (+-1). Balance matters: a wrong attribute is drawn uniform over the
    *other* values, so unbalanced prompts would make drawn content depend on mismatch.
    Greedy in a seeded order, so a smaller spec gets a prefix of a larger one's prompts.
    """
    combos = np.array(list(product(*(range(len(v)) for v in _AXES.values()))))
    if not 1 <= n_prompts <= len(combos):
        raise ValueError(f"n_prompts must be in [1, {len(combos)}], got {n_prompts}")
    combos = combos[_rng(seed, _STREAM_PROMPTS).permutation(len(combos))]
    free = np.ones(len(combos), bool)
    usage = [np.zeros(len(v), int) for v in _AXES.values()]
    prompts = []
    for _ in range(n_prompts):
        ok = free.copy()
        for axis, used in enumerate(usage):
            ok &= used[combos[:, axis]] == used.min()
        i = int(np.argmax(ok if ok.any() else free))  # no balanced one left: any unused
        free[i] = False
        for axis, used in enumerate(usage):
            used[combos[i, axis]] += 1
        prompts.append({k: v[j] for (k, v), j in zip(_AXES.items(), combos[i], strict=True)})
    return prompts


def _other(rng: np.random.Generator, values, current):
    others = [v for v in values if v != current]
    return others[rng.integers(len(others))]


def _plan_image(parts: dict, profile: GeneratorProfile, rng: np.random.Generator,
                size: int) -> dict:
    # A fixed number of draws, in a fixed order: mismatches and defects are independent.
    wrong = rng.random(3) < profile.mismatch
    drawn = {"colour": _other(rng, tuple(COLOURS), parts["colour"]),
             "object": _other(rng, OBJECTS, parts["object"]),
             "count": _other(rng, COUNTS, parts["count"])}
    drawn = {k: drawn[k] if w else parts[k] for k, w in zip(_ATTRS, wrong, strict=True)}
    active = rng.random(4)
    severity = rng.uniform(0.15, 1.0, 4)
    sev = {}
    for i, name in enumerate(DEFECT_WEIGHTS):
        prob, top = getattr(profile, name)
        sev[name] = round(float(severity[i] * top), 3) if active[i] < prob else 0.0
    rater = rng.standard_normal(2)

    jpeg_quality = round(50 - 45 * sev["jpeg"]) if sev["jpeg"] > 0 else 100
    sev["jpeg"] = (50 - jpeg_quality) / 45 if jpeg_quality < 100 else 0.0  # integer-exact
    damage = 1 - np.prod([1 - DEFECT_WEIGHTS[k] * sev[k] for k in DEFECT_WEIGHTS])
    quality_true = 4.8 - 3.6 * damage
    align_true = 4.8 - sum(MISMATCH_PENALTIES[k] * w for k, w in zip(_ATTRS, wrong, strict=True))
    mos_q = float(np.clip(quality_true + QUALITY_RATER_SD * rater[0], 1, 5))
    mos_a = float(np.clip(align_true + ALIGN_RATER_SD * rater[1], 1, 5))
    return {
        "mos_quality": round(mos_q, 4), "mos_align": round(mos_a, 4),
        "mos": round((mos_q + mos_a) / 2, 4),
        "quality_true": round(float(quality_true), 4), "align_true": round(float(align_true), 4),
        "blur": round(3.0 * sev["blur"] * size / 256, 4), "noise": round(30 * sev["noise"], 3),
        "jpeg_quality": int(jpeg_quality), "colour_artefact": sev["colour"],
        "colour_mismatch": int(wrong[0]), "object_mismatch": int(wrong[1]),
        "count_mismatch": int(wrong[2]), "n_mismatch": int(wrong.sum()),
        "drawn_object": drawn["object"], "drawn_colour": drawn["colour"],
        "drawn_count": int(drawn["count"]),
    }


def plan_demo(spec: DemoSpec = DemoSpec()) -> pd.DataFrame:
    """All labels of the demo dataset, computed without rendering a pixel."""
    unknown = [g for g in spec.generators if g not in GENERATOR_PROFILES]
    if unknown:
        raise ValueError(f"unknown generators {unknown}; known: {list(GENERATOR_PROFILES)}")
    width = max(3, len(str(spec.n_prompts - 1)))
    rows = []
    for p, parts in enumerate(demo_prompts(spec.n_prompts, spec.seed)):
        for gen in spec.generators:
            rng = _rng(spec.seed, _STREAM_IMAGES, p, _generator_key(gen), 0)
            rows.append({"image": f"{gen}_{p:0{width}d}.png", "prompt": prompt_text(parts),
                         "group": p, "generator": gen,
                         **_plan_image(parts, GENERATOR_PROFILES[gen], rng, spec.image_size),
                         **parts})
    return pd.DataFrame(rows)


def _render_row(row: dict, spec: DemoSpec) -> np.ndarray:
    rng = _rng(spec.seed, _STREAM_IMAGES, int(row["group"]), _generator_key(row["generator"]), 1)
    drawn = {"object": row["drawn_object"], "colour": row["drawn_colour"],
             "count": row["drawn_count"], "background": row["background"],
             "style": row["style"]}
    return apply_defects(_render_float(drawn, rng, spec.image_size), row, rng)


# -------------------------------------------------------------------------- generate
def _spec_record(spec: DemoSpec) -> dict:
    # the photos' digest too: a scikit-image release that changed them changes the images
    return {"generator_version": GENERATOR_VERSION, "photos": bank_digest(), "spec": asdict(spec)}


def _is_current(out_dir: Path, spec: DemoSpec) -> bool:
    try:
        record = json.loads((out_dir / "spec.json").read_text())
    except (OSError, ValueError):
        return False
    return (record == json.loads(json.dumps(_spec_record(spec)))
            and (out_dir / "labels.csv").is_file())


def generate_demo(out_dir: Path, spec: DemoSpec = DemoSpec(),
                  progress: bool = True) -> pd.DataFrame:
    """Write out_dir/images/<name>.png, out_dir/labels.csv and out_dir/spec.json.

    Returns the labels frame. If out_dir already holds this spec and generator version,
    it is returned as is. Writing goes to a temporary sibling directory renamed into
    place, so an interrupted run never leaves a half dataset; an existing, outdated demo
    directory is replaced (a non-empty directory that is not a demo is refused).
    """
    out_dir = Path(out_dir)
    if _is_current(out_dir, spec):
        return pd.read_csv(out_dir / "labels.csv")
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / "spec.json").exists():
        raise FileExistsError(f"{out_dir} is not empty and is not a demo dataset")
    labels = plan_demo(spec)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the dataset is not
        (tmp / "images").mkdir()
        for row in progress_bar(labels.to_dict("records"), desc="demo images", unit="img", file=sys.stderr,
                        disable=not progress):
            # fast zlib level: encoding is a third of the time, size grows only ~15%
            Image.fromarray(_render_row(row, spec)).save(tmp / "images" / row["image"],
                                                         compress_level=1)
        labels.to_csv(tmp / "labels.csv", index=False)
        (tmp / "spec.json").write_text(json.dumps(_spec_record(spec), indent=2) + "\n")
        if out_dir.exists():  # directories cannot be renamed over: move the old one aside
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            os.replace(out_dir, old / "data")
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return pd.read_csv(out_dir / "labels.csv")


def _sample_parts(rng: np.random.Generator) -> dict:
    return {k: values[rng.integers(len(values))] for k, values in _AXES.items()}


def generate_pairs(n: int, seed: int, size: int = 256) -> Iterator[tuple[np.ndarray, str]]:
    """Clean, correctly matching (image, prompt) pairs for contrastive pretraining.

    Drawn from their own seed stream, so they never coincide with demo images.
    """
    for i in range(n):
        rng = _rng(seed, _STREAM_PAIRS, i)
        parts = _sample_parts(rng)
        yield render(parts, rng, size), prompt_text(parts)
