"""SISBLIM's compiled passes give the numpy formulation's values on small, odd-sized and
non-contiguous images: the noise sigma and the denoised image bit for bit, the exact sums
exactly, the rest within float rounding (the numpy expressions here are the ones they replace)."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage import data

from bench.images import MIN_IMAGE_SIDE
from methods.features import sisblim
from methods.features._common import rgb2gray
from methods.features._sisblim_ar import neighbour_moments, residual_sum_squares
from methods.features._sisblim_jpeg import jpeg_sums
from methods.features._sisblim_noise import (
    adaptive_wiener,
    patch_covariance,
    patch_variances,
)

RTOL = 1e-12


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def _grays() -> dict[str, np.ndarray]:
    astronaut = data.astronaut()
    flat = np.full((40, 52, 3), 90, np.uint8)
    flat[10:30, 20:40] = 180  # flat areas: rounding noise is where summation orders show
    found = {
        "min_side": astronaut[200:200 + MIN_IMAGE_SIDE, 300:300 + MIN_IMAGE_SIDE],
        "odd_97x130": astronaut[100:197, 50:180],
        "jpeg_odd_61x83": _jpeg(astronaut[:61, :83], 20),
        "flat_blocks": flat,
        "noise": np.random.default_rng(3).integers(0, 256, (45, 38, 3)).astype(np.uint8),
    }
    grays = {name: rgb2gray(np.ascontiguousarray(image)) for name, image in found.items()}
    grays["non_contiguous"] = rgb2gray(astronaut[:200, :300])[::2, 1::3]  # a strided view
    return grays


GRAYS = _grays()


def _patches(gray: np.ndarray) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(gray, (5, 5))[::2, ::2].reshape(-1, 25)


def _noise_sigma_numpy(gray: np.ndarray) -> float:
    p = _patches(gray)
    var = p.var(axis=1)
    x = p[var <= np.median(var)]
    x = x - x.mean(axis=0)
    cov = np.einsum("ni,nj->ij", x, x) / (len(x) - 1)
    return float(np.sqrt(max(np.linalg.eigvalsh(cov)[0], sisblim.QUANT_VAR)))


@pytest.mark.parametrize("name", list(GRAYS))
def test_noise_patches_equal_numpy(name):
    gray = GRAYS[name]
    p = _patches(gray)
    var = patch_variances(gray)
    assert np.array_equal(var.ravel(), p.var(axis=1))
    selected = var <= np.median(var)
    x = p[selected.ravel()]
    x = x - x.mean(axis=0)
    assert np.array_equal(patch_covariance(gray, selected), np.einsum("ni,nj->ij", x, x) / (len(x) - 1))
    assert sisblim.noise_sigma(gray) == _noise_sigma_numpy(gray)


@pytest.mark.parametrize("name", list(GRAYS))
def test_wiener_equals_ndimage(name):
    gray = GRAYS[name]
    sigma = _noise_sigma_numpy(gray) + 1.5  # also past the quantisation floor
    mu = ndimage.uniform_filter(gray, 5, mode="reflect")
    var = np.maximum(ndimage.uniform_filter(gray * gray, 5, mode="reflect") - mu * mu, 0)
    gain = np.clip((var - sigma**2) / (var + 1e-12), 0, 1)
    den, extent, energy = sisblim.denoise(gray, sigma)
    assert np.array_equal(den, mu + gain * (gray - mu))
    excess = sigma**2 - sisblim.QUANT_VAR
    assert extent == pytest.approx(1 - np.mean(np.minimum(var, excess) / (var + sisblim.QUANT_VAR)), rel=RTOL)
    assert energy == pytest.approx(np.maximum(var - sigma**2, 0).sum() / (var.sum() + 1e-12), rel=RTOL)
    _, clean, signal, total = adaptive_wiener(gray, sigma**2, excess, sisblim.QUANT_VAR, 1e-12)
    assert (clean, signal, total) == pytest.approx((np.sum(np.minimum(var, excess) / (var + sisblim.QUANT_VAR)),
                                                    np.maximum(var - sigma**2, 0).sum(), var.sum()), rel=RTOL)


def _neighbours(gray: np.ndarray) -> np.ndarray:
    """Rows: the 8 neighbours of each interior pixel, then the pixel (as the AR fit orders them)."""
    h, w = gray.shape
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx] + [(0, 0)]
    return np.stack([gray[1 + dy: h - 1 + dy, 1 + dx: w - 1 + dx].ravel() for dy, dx in shifts])


@pytest.mark.parametrize("name", list(GRAYS))
def test_ar_sums_equal_numpy(name):
    gray = GRAYS[name]
    v = _neighbours(gray).astype(np.int64)
    products, sums = neighbour_moments(gray)
    assert np.array_equal(products, v @ v.T) and np.array_equal(sums, v.sum(axis=1))
    a = np.linspace(0.3, -0.1, 8)
    residual = v[8] - a @ v[:8]
    assert residual_sum_squares(gray, a, residual.mean()) == pytest.approx(np.var(residual) * residual.size, rel=RTOL)


def test_ar_sums_need_integer_levels():
    with pytest.raises(ValueError, match="integer grey levels"):
        neighbour_moments(GRAYS["odd_97x130"] + 0.5)


def _jpeg_direction_numpy(x: np.ndarray) -> tuple:
    d = np.diff(x, axis=1)
    nb = max(x.shape[1] // 8 - 1, 1)
    grid = np.abs(d[:, 7: 8 * nb: 8])
    return np.abs(d).sum(), d.size, grid.sum(), grid.size, np.sum(d[:, :-1] * d[:, 1:] < 0), d[:, 1:].size


@pytest.mark.parametrize("name", list(GRAYS))
def test_jpeg_sums_equal_numpy(name):
    den = sisblim.denoise(GRAYS[name], 1.0)[0]
    for got, expected in zip(jpeg_sums(den), (_jpeg_direction_numpy(den), _jpeg_direction_numpy(den.T))):
        assert got[1::2] == expected[1::2] and got[4] == expected[4]  # counts and sign changes: exact
        assert (got[0], got[2]) == pytest.approx((expected[0], expected[2]), rel=RTOL)


def test_extract_on_a_view_equals_extract_on_a_copy():
    view = data.astronaut()[3:120:2, 200:17:-3]
    assert np.array_equal(sisblim.extract(view), sisblim.extract(np.ascontiguousarray(view)))
