"""Shared helpers for the handcrafted feature extractors.

Most of the original releases are MATLAB code; the helpers here reproduce the MATLAB
building blocks they rely on (``rgb2gray``, ``fspecial``, ``imresize(., 0.5)``,
``ssim``) so that each extractor reads like its reference and nothing is written twice.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import gamma as _gamma

from bench.images import MIN_IMAGE_SIDE as MIN_SIDE  # smallest side any extractor accepts

from ._filters import gaussian_weights, symmetric_sum
from ._jit import compiled

# MATLAB rgb2gray coefficients (rows of the inverse NTSC transform).
_GRAY = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])


def check_rgb(image: np.ndarray) -> np.ndarray:
    """Validate the extractor contract: HxWx3 uint8 RGB, both sides >= MIN_SIDE."""
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB array, got {a.dtype} {a.shape}")
    if min(a.shape[:2]) < MIN_SIDE:
        raise ValueError(f"image too small ({a.shape[0]}x{a.shape[1]}); need >= {MIN_SIDE} px per side")
    return a


def rgb2gray(image: np.ndarray) -> np.ndarray:
    """MATLAB ``double(rgb2gray(uint8))``: weighted sum rounded to integers, as float64.

    Summed left to right: equal to the matrix-product form for all 2^24 colours (checked)."""
    rgb = check_rgb(image)
    return _gray_rounded(rgb, _GRAY, np.empty(rgb.shape[:2]))


@compiled
def _gray_rounded(rgb, w, out):
    for i in range(rgb.shape[0]):
        for j in range(rgb.shape[1]):
            out[i, j] = np.floor(rgb[i, j, 0] * w[0] + rgb[i, j, 1] * w[1] + rgb[i, j, 2] * w[2] + 0.5)
    return out


# glibc's hypot (e_hypot.c since 2.35: Borges' correction of sqrt(ax^2 + ay^2), no FMA on x86-64)
_HYPOT_LARGE, _HYPOT_TINY, _HYPOT_EPS = 2.0**511, 2.0**-459, 2.0**-54


@compiled
def hypot_row(x, y, out):
    """out = ``np.hypot(x, y)`` bit for bit where the C library is x86-64 glibc >= 2.35 built
    without fast FMA (glibc's FMA branch, e.g. on aarch64, and other C libraries may round 1 ulp
    apart), 1-D: NumPy calls the C library's hypot, one call per element (14 ms at 1024 px);
    glibc's algorithm here vectorises. Its common case is computed
    branch-free for every element, then the cases glibc treats apart are redone: huge, tiny or
    non-finite inputs by the C hypot itself, very unequal ones as ax + ay (tests check equality
    with np.hypot across magnitudes)."""
    n = len(out)
    for j in range(n):
        a, b = abs(x[j]), abs(y[j])
        ax, ay = max(a, b), min(a, b)
        h = np.sqrt(ax * ax + ay * ay)
        near, far = h - ay, h - ax
        t_near = ax * (2.0 * near - ax) + (near - 2.0 * (ax - ay)) * near
        t_far = 2.0 * far * (ax - 2.0 * ay) + ((4.0 * far - ay) * ay + far * far)
        out[j] = h - (t_near if h <= 2.0 * ay else t_far) / (2.0 * h)  # 0 / 0 (no error: numpy's model) redone below
    for j in range(n):
        a, b = abs(x[j]), abs(y[j])
        ax, ay = max(a, b), min(a, b)
        # each input tested itself: max/min pass a NaN over, as Python's do
        if not (a <= _HYPOT_LARGE and b <= _HYPOT_LARGE and a >= _HYPOT_TINY and b >= _HYPOT_TINY):
            out[j] = math.hypot(a, b)
        elif ay <= ax * _HYPOT_EPS:
            out[j] = ax + ay


def fspecial_gaussian(size: int, sigma: float) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', size, sigma)``."""
    x = np.arange(size) - (size - 1) / 2
    h = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * sigma**2))
    h[h < np.finfo(float).eps * h.max()] = 0
    return h / h.sum()


def fspecial_log(size: int, sigma: float) -> np.ndarray:
    """MATLAB ``fspecial('log', size, sigma)`` (zero-sum Laplacian of Gaussian)."""
    x = np.arange(size) - (size - 1) / 2
    r2 = x[:, None] ** 2 + x[None, :] ** 2
    h = np.exp(-r2 / (2 * sigma**2))
    h[h < np.finfo(float).eps * h.max()] = 0
    h = h / h.sum() * (r2 - 2 * sigma**2) / sigma**4
    return h - h.sum() / h.size


def gaussian_taps(size: int, sigma: float) -> np.ndarray:
    """The 1-D taps that apply MATLAB's ``filter2(fspecial('gaussian', size, sigma), ., 'same')``
    separably (down the columns, then along the rows, zero-padded): the centre row of
    fspecial('gaussian'), normalised."""
    g = fspecial_gaussian(size, sigma)[size // 2]
    return g / g.sum()





def _keys_cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    return np.where(ax <= 1, 1.5 * ax**3 - 2.5 * ax**2 + 1,
                    np.where(ax <= 2, -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2, 0.0))


# MATLAB imresize(x, 0.5) (bicubic, antialiased): output sample i sits at input coordinate
# 2i + 0.5 and uses the 8 taps 2i-3 .. 2i+4, weighted by cubic(0.5 * distance).
_HALF_OFFSETS = np.arange(-3, 5)
_HALF_TAPS = _keys_cubic(0.5 * (_HALF_OFFSETS - 0.5))
_HALF_TAPS = _HALF_TAPS / _HALF_TAPS.sum()


def _half_sources(n: int) -> np.ndarray:
    """(tap, output sample) -> the input index it reads, borders mirrored as MATLAB does
    (``padarray(., 'symmetric')``: index -1 reads 0, index n reads n - 1)."""
    q = 2 * np.arange((n + 1) // 2)[None, :] + _HALF_OFFSETS[:, None]
    while (q < 0).any() or (q >= n).any():  # mirror until in range (tiny inputs mirror twice)
        q = np.where(q < 0, -q - 1, np.where(q >= n, 2 * n - 1 - q, q))
    return q


@compiled
def _half_rows(a, sources, taps):
    out = np.zeros((sources.shape[1], a.shape[1]))
    for i in range(out.shape[0]):
        for k in range(len(taps)):  # taps summed in this order, from 0: the values depend on it
            row = a[sources[k, i]]
            for j in range(out.shape[1]):
                out[i, j] = out[i, j] + taps[k] * row[j]
    return out


@compiled
def _half_columns(a, sources, taps):
    out = np.zeros((a.shape[0], sources.shape[1]))
    for i in range(out.shape[0]):
        for k in range(len(taps)):
            for j in range(out.shape[1]):
                out[i, j] = out[i, j] + taps[k] * a[i, sources[k, j]]
    return out


def imresize_half(image: np.ndarray) -> np.ndarray:
    """MATLAB ``imresize(image, 0.5)`` for a 2-D float image (separable, exact taps): rows
    first, then columns."""
    rows = _half_rows(image, _half_sources(image.shape[0]), _HALF_TAPS)
    return _half_columns(rows, _half_sources(image.shape[1]), _HALF_TAPS)


# Moment-matching generalised-Gaussian fit (DESIQUE's ``gaussian_para_esti``, used by HIGRADE).
_GGD_SHAPES = np.arange(0.2, 10.0005, 0.001)
_GGD_RATIO = _gamma(1 / _GGD_SHAPES) * _gamma(3 / _GGD_SHAPES) / _gamma(2 / _GGD_SHAPES) ** 2


def ggd_fit_moments(mean_square: float, mean_abs: float) -> tuple[float, float]:
    """GGD fit by moment matching (DESIQUE's ``gaussian_para_esti``) from a map's mean square
    and mean absolute value about its mean: returns (standard deviation, shape).

    The moments are taken about the sample mean, as DESIQUE's estimator does (a zero-mean fit
    differs on MSCN maps, whose mean is not exactly 0)."""
    rho = mean_square / mean_abs**2 if mean_abs > 0 else 0.0  # degenerate (constant) input -> largest shape
    return float(np.sqrt(mean_square)), float(_GGD_SHAPES[np.argmin(np.abs(rho - _GGD_RATIO))])


def ssim_map(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> np.ndarray:
    """MATLAB ``ssim`` map: 11x11 Gaussian window (sigma 1.5), replicate padding, K=(0.01, 0.03).

    The five blurs (of a, b, a*a, b*b, a*b) are ``ndimage.gaussian_filter``'s bit for bit, done
    row by row in one compiled pass that never stores them: the map equals the numpy formula's."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    a, b = (np.ascontiguousarray(x, dtype=np.float64) for x in (a, b))
    return _ssim_rows(a, b, tuple(gaussian_weights(1.5, 5 / 1.5)), c1, c2, np.empty(a.shape))


@compiled
def _ssim_rows(a, b, w, c1, c2, out):
    """The SSIM map, row by row: the axis-0 pass of the five blurs, replicated to the padding
    columns (as ndimage pads the intermediate), then per pixel their axis-1 passes and
    ``((2 mu_a mu_b + c1) (2 cov + c2)) / ((mu_a^2 + mu_b^2 + c1) (var_a + var_b + c2))``."""
    r = len(w) // 2
    rows, cols = out.shape
    columns = np.empty((5, cols + 2 * r))
    for i in range(rows):
        _moments_along_columns(a, b, i, w, columns)
        for q in range(5):
            for k in range(r):
                columns[q, k], columns[q, r + cols + k] = columns[q, r], columns[q, r + cols - 1]
        blur_a, blur_b, blur_aa, blur_bb, blur_ab = columns[0], columns[1], columns[2], columns[3], columns[4]
        o = out[i]
        for j in range(cols):
            mu_a, mu_b = symmetric_sum(blur_a, j, w), symmetric_sum(blur_b, j, w)
            var_a = symmetric_sum(blur_aa, j, w) - mu_a ** 2
            var_b = symmetric_sum(blur_bb, j, w) - mu_b ** 2
            cov = symmetric_sum(blur_ab, j, w) - mu_a * mu_b
            o[j] = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return out


@compiled
def _moments_along_columns(a, b, i, w, out):
    """Output row i of the axis-0 pass of a, b, a*a, b*b and a*b with replicate padding (rows
    clamped), in ndimage's symmetric order (centre, then the pairs from the outermost in), into
    out[:, r:-r]. The five sums stay in registers over the taps (w is a tuple: see
    ``symmetric_sum``)."""
    r, last, cols = len(w) // 2, a.shape[0] - 1, a.shape[1]
    # rows first, then a unit-stride slice: numba then knows the slices are contiguous
    s_a, s_b, s_aa, s_bb, s_ab = (out[0][r:r + cols], out[1][r:r + cols], out[2][r:r + cols],
                                  out[3][r:r + cols], out[4][r:r + cols])
    for m in range(cols):
        x, y = a[i, m], b[i, m]
        sa, sb, saa, sbb, sab = x * w[r], y * w[r], x * x * w[r], y * y * w[r], x * y * w[r]
        for k in range(r, 0, -1):
            lo, hi, wk = max(i - k, 0), min(i + k, last), w[r - k]
            x_lo, x_hi, y_lo, y_hi = a[lo, m], a[hi, m], b[lo, m], b[hi, m]
            sa += (x_lo + x_hi) * wk
            sb += (y_lo + y_hi) * wk
            saa += (x_lo * x_lo + x_hi * x_hi) * wk
            sbb += (y_lo * y_lo + y_hi * y_hi) * wk
            sab += (x_lo * y_lo + x_hi * y_hi) * wk
        s_a[m], s_b[m], s_aa[m], s_bb[m], s_ab[m] = sa, sb, saa, sbb, sab
