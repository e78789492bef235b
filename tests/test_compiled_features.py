"""The compiled NIQE and GMLF steps equal the whole-map NumPy/SciPy formulation they replace.

The references below are the release's steps written map by map (``ndimage.correlate``,
``np.hypot``, ``np.roll``, ``np.bincount``), as the extractors computed them before they were
compiled. GMLF's histogram and NIQE's MSCN map must equal them bit for bit; NIQE's block
sums up to their order of summation. Sizes cover the smallest accepted side, odd sides and
partial blocks; inputs include strided views.
"""
from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import pytest
from helpers import gaussian_window
from scipy import ndimage

from methods.features import gmlf, niqe
from methods.features._common import hypot_row, imresize_half, rgb2gray

PRISTINE = Path(__file__).parent.parent / "bench" / "assets" / "shipped" / "niqe_pris_params.npz"


def _images():
    rng = np.random.default_rng(7)
    base = rng.integers(0, 256, (300, 420, 3), dtype=np.uint8)
    smooth = ndimage.uniform_filter(base.astype(float), (9, 9, 1)).round().astype(np.uint8)
    flat = smooth.copy()
    flat[40:200, 60:300] = (90, 120, 30)  # a flat patch: rounding noise is where orders show
    return {
        "16x16": base[:16, :16], "17x23": base[:17, :23], "97x130": smooth[:97, :130],
        "193x290 flat patch": flat[:193, :290], "300x420": smooth,
        "strided view": flat[1::2, ::3], "flat": np.full((120, 150, 3), 77, np.uint8),
    }


IMAGES = _images()
_LIBC, _LIBC_VERSION = platform.libc_ver()
# hypot_row is glibc's hypot (2.35 on); np.hypot calls the platform's C library, which elsewhere
# may round 1 ulp apart.
GLIBC_HYPOT = (_LIBC == "glibc" and platform.machine() == "x86_64"  # glibc's FMA branch elsewhere
               and tuple(int(v) for v in _LIBC_VERSION.split(".")[:2]) >= (2, 35))


@pytest.mark.skipif(not GLIBC_HYPOT, reason="hypot_row reproduces x86-64 glibc >= 2.35's hypot")
@pytest.mark.parametrize("scale", [1e-300, 1e-150, 1e-140, 1e-3, 1.0, 255.0, 1e150, 1e300])
def test_hypot_row_equals_np_hypot(scale):
    rng = np.random.default_rng(int(np.log10(scale)) + 400)
    x = rng.normal(0, scale, 20000) * np.exp(rng.normal(0, 4, 20000))
    y = rng.normal(0, scale, 20000)
    x[:100], y[100:200], y[200:300] = 0.0, 0.0, x[200:300]
    x[300], y[301], x[302], y[303] = np.inf, -np.inf, np.nan, 1e-320
    y[304], x[305], y[306], x[307] = np.nan, -0.0, np.inf, np.nan  # a NaN or inf in either argument
    y[307] = np.inf
    out = np.empty_like(x)
    hypot_row(x, y, out)
    assert np.array_equal(out, np.hypot(x, y), equal_nan=True)


def _gmlf_whole_maps(image):
    gray = rgb2gray(image)
    gm = np.hypot(*(ndimage.correlate(gray, k, mode="constant") for k in (gmlf._KX, gmlf._KY))) / gmlf.GM_LOG_RATIO
    log = np.abs(ndimage.correlate(gray, gmlf._KLOG, mode="constant"))
    norm = np.sqrt(gaussian_window((gm * gm + log * log) / 2, gmlf._NORM_SIZE, 2 * gmlf.SIGMA)) + gmlf.C0
    b = slice(2, -2)
    qg = np.clip(np.ceil(gm[b, b] / norm[b, b] / gmlf.STEP), 1, gmlf.BINS).astype(np.int64) - 1
    ql = np.clip(np.ceil(log[b, b] / norm[b, b] / gmlf.STEP), 1, gmlf.BINS).astype(np.int64) - 1
    return np.bincount((qg * gmlf.BINS + ql).ravel(), minlength=gmlf.BINS**2)


@pytest.mark.parametrize("name", list(IMAGES))
def test_gmlf_joint_histogram_equals_whole_maps(name):
    image = IMAGES[name]
    p = gmlf.pad_for(rgb2gray(image), gmlf._KX.shape, "constant")
    counts = gmlf._joint_counts(p, *gmlf._FOOTPRINTS, gmlf._NORM_TAPS, gmlf._NORM_SYMMETRY, 2,
                                np.zeros(gmlf.BINS**2, dtype=np.int64))
    assert np.array_equal(counts, _gmlf_whole_maps(image))


def _niqe_whole_maps(gray):
    """Per scale: (grey input, MSCN map, per block and map the sums aggd_fit takes)."""
    rows, cols = (s // niqe.BLOCK for s in gray.shape)
    im = gray[: rows * niqe.BLOCK, : cols * niqe.BLOCK]
    per_scale = []
    for scale in range(1, niqe.SCALES + 1):
        if scale > 1:
            im = imresize_half(im)
        mu = ndimage.correlate(im, niqe._WINDOW, mode="nearest")
        sigma = np.sqrt(np.abs(ndimage.correlate(im * im, niqe._WINDOW, mode="nearest") - mu * mu))
        mscn = (im - mu) / (sigma + 1)
        b = niqe.BLOCK // scale
        blocks = mscn.reshape(rows, b, cols, b).transpose(2, 0, 1, 3).reshape(rows * cols, b, b)
        maps = [blocks] + [blocks * np.roll(blocks, shift, axis=(1, 2)) for shift in niqe._SHIFTS]
        sums = []
        for v in (m.reshape(len(blocks), -1) for m in maps):
            neg, pos = np.minimum(v, 0), np.maximum(v, 0)
            sums.append(np.stack([(neg * neg).sum(1), (pos * pos).sum(1), (v < 0).sum(1), (v > 0).sum(1),
                                  pos.sum(1), neg.sum(1)], axis=1))
        per_scale.append((im, mscn, np.stack(sums, axis=1)))
    return per_scale


@pytest.mark.parametrize("name", [n for n, im in IMAGES.items() if min(im.shape[:2]) >= niqe.BLOCK])
def test_niqe_mscn_and_block_sums_equal_whole_maps(name):
    for scale, (im, mscn, sums) in enumerate(_niqe_whole_maps(rgb2gray(IMAGES[name])), start=1):
        assert np.array_equal(niqe.mscn_map(im), mscn)
        got = niqe._block_sums(mscn, niqe.BLOCK // scale, np.empty(sums.shape))
        np.testing.assert_allclose(got, sums, rtol=1e-12)


@pytest.mark.parametrize("name", ["193x290 flat patch", "300x420"])
def test_a_strided_view_gives_the_values_of_its_copy(name):
    pristine = niqe.read_pristine(PRISTINE)
    view = np.zeros((2 * IMAGES[name].shape[0], 2 * IMAGES[name].shape[1], 3), np.uint8)[::2, ::2]
    view[...] = IMAGES[name]
    copy = np.ascontiguousarray(view)
    assert niqe.score(view, *pristine) == niqe.score(copy, *pristine)
    assert np.array_equal(gmlf.extract(view), gmlf.extract(copy))


def test_gmlf_bin_refuses_nan_instead_of_indexing_outside_the_counts():
    assert gmlf._bin(0.0) == 0 and gmlf._bin(1e9) == gmlf.BINS - 1
    with pytest.raises(ValueError, match="NaN"):
        gmlf._bin(np.nan)
