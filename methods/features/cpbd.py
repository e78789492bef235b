"""DSIQA = CPBD: cumulative probability of blur detection (no-reference sharpness).

N. D. Narvekar, L. J. Karam, "A no-reference image blur metric based on the cumulative
probability of blur detection (CPBD)", IEEE TIP 20(9), 2011 (QoMEX 2009 for the first version).

A vectorised re-implementation of the ``cpbd`` PyPI package (v1.0.7, a port of the authors'
MATLAB release), which gives the same numbers (see tests/test_features.py). The package
itself does not import with current SciPy (``from scipy.ndimage import imread``), and its
per-pixel Python loops take seconds per image. Steps, as in the package:

* Canny edges (skimage, default parameters) decide which 64x64 blocks are edge blocks
  (more than 0.2% edge pixels); Octave-style Sobel edges (vertical gradient strength,
  threshold 2*sqrt(mean(strength^2)), simple non-maximum thinning) give the edge pixels
  whose widths are measured;
* Marziliano edge width along the row, for edges whose gradient angle quantises to 0 or
  180 degrees: steps to the local extrema on each side, at most 101 per side;
* per block, JNB width 5 if the block contrast (max - min) <= 50, else 3; the probability
  of blur detection is P = 1 - exp(-(w / w_JNB)^3.6), put into 101 bins (round(100 P));
* CPBD = fraction of measured edges with P <= 63% (bins 0..63). Higher = sharper.

Deviations: an image with no complete 64x64 block (e.g. 64x48) is treated as a single
block (the package returns 0 for it). The package's Octave-style Sobel and skimage Canny
are not MATLAB's ``edge()``, so values can differ somewhat from the authors' MATLAB release.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.feature import canny

from ._common import rgb2gray
from ._filters import gaussian_filter, sobel

VERSION = "1"
HIGHER_IS_BETTER = True
NAMES = ("cpbd", "mean_edge_width")
BLOCK = 64
EDGE_BLOCK_FRACTION = 0.002
BETA = 3.6
MAX_STEPS = 100   # the package scans at most 101 pixels on each side of an edge
P_JNB_BIN = 63    # CPBD counts the bins round(100 P) <= 63

_SOBEL = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]]) / 8


def canny_edges(gray: np.ndarray) -> np.ndarray:
    """``skimage.feature.canny(gray)`` (default parameters) with its Gaussian and Sobel
    filters done by ``_filters``, which equal ndimage's bit for bit but run 3x faster
    along columns; the rest is skimage's own steps (tests/test_features.py checks the
    result equals skimage's). Falls back to skimage if its private NMS routine moves."""
    try:
        from skimage.feature._canny_cy import _nonmaximum_suppression_bilinear
    except ImportError:  # pragma: no cover - a future scikit-image
        return canny(gray)
    bleed_over = gaussian_filter(np.ones(gray.shape), 1.0, mode="constant") + np.finfo(np.float64).eps
    smoothed = gaussian_filter(gray, 1.0, mode="constant")
    smoothed /= bleed_over
    jsobel, isobel = sobel(smoothed, 1), sobel(smoothed, 0)
    magnitude = isobel * isobel
    magnitude += jsobel * jsobel
    np.sqrt(magnitude, out=magnitude)
    eroded = np.zeros(gray.shape, dtype=bool)
    eroded[1:-1, 1:-1] = True
    low_masked = _nonmaximum_suppression_bilinear(isobel, jsobel, magnitude, eroded, 0.1)  # skimage's default
    low_mask = low_masked > 0
    labels, count = ndimage.label(low_mask, np.ones((3, 3), dtype=bool))
    if count == 0:
        return low_mask
    good = np.zeros(count + 1, dtype=bool)
    good[np.unique(labels[low_mask & (low_masked >= 0.2)])] = True  # hysteresis, high threshold 0.2
    return good[labels]


def sobel_edges(gray: np.ndarray) -> np.ndarray:
    """Octave-style ``edge(I, 'sobel')`` of the package: vertical edges, thinned."""
    s = ndimage.convolve(gray, _SOBEL.T, mode="reflect") ** 2
    s[s <= 2 * np.sqrt(s.mean())] = 0
    z = np.pad(s, 1)  # zero border, as in the package's thinning
    c = z[1:-1, 1:-1]
    return ((c > z[1:-1, :-2]) & (c > z[1:-1, 2:])) | ((c > z[:-2, 1:-1]) & (c > z[2:, 1:-1]))


def _runs_back(c: np.ndarray) -> np.ndarray:
    """Length of the run of True values ending at each position along axis 1."""
    idx = np.arange(c.shape[1])
    return idx - np.maximum.accumulate(np.where(c, -1, idx), axis=1)


def _side_widths(c: np.ndarray) -> np.ndarray:
    """Marziliano width 2 + left run + right run around each interior column.

    ``c[:, k]`` tells whether the profile keeps going the edge's way between columns k, k+1;
    an edge at column j extends left over c[:, j-2], c[:, j-3]... and right over c[:, j+1]...
    """
    zero = np.zeros((c.shape[0], 1), dtype=np.int64)
    left = np.hstack([zero, _runs_back(c)])[:, :-2]                  # run ending at j-2
    right = np.hstack([_runs_back(c[:, ::-1])[:, ::-1], zero])[:, 2:]  # run starting at j+1
    return 2 + np.minimum(left, MAX_STEPS) + np.minimum(right, MAX_STEPS)


def edge_widths(gray: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Edge width at each edge pixel (0 elsewhere), as the package's ``marziliano_method``."""
    gy, gx = np.gradient(gray)
    angle = np.where(gx != 0, np.arctan2(gy, gx) * (180 / np.pi), 0.0)  # gx == 0 -> 0 (package quirk)
    widths = np.zeros(gray.shape)
    if not angle.any():
        return widths
    q = 45 * np.round(angle / 45)[1:-1, 1:-1]
    d = np.diff(gray, axis=1)
    rising, falling = _side_widths(d > 0), _side_widths(d < 0)
    inner = edges[1:-1, 1:-1]
    widths[1:-1, 1:-1] = np.where(inner & (q == 0), rising[1:-1],
                                  np.where(inner & (np.abs(q) == 180), falling[1:-1], 0))
    return widths


def _blocks(a: np.ndarray, bh: int, bw: int) -> np.ndarray:
    """(H, W) -> (n_blocks, bh * bw), complete blocks only."""
    nv, nh = a.shape[0] // bh, a.shape[1] // bw
    a = a[: nv * bh, : nh * bw].reshape(nv, bh, nh, bw).swapaxes(1, 2)
    return a.reshape(nv * nh, bh * bw)


def cpbd_gray(gray: np.ndarray) -> tuple[float, float]:
    """(CPBD, mean measured edge width) of a 0..255 grey image given as float64."""
    gray = np.asarray(gray, dtype=np.float64)
    bh, bw = (BLOCK, BLOCK) if min(gray.shape) >= BLOCK else gray.shape
    widths = _blocks(edge_widths(gray, sobel_edges(gray)), bh, bw)
    is_edge_block = np.count_nonzero(_blocks(canny_edges(gray), bh, bw), axis=1) > bh * bw * EDGE_BLOCK_FRACTION
    pix = _blocks(gray, bh, bw)
    contrast = (pix.max(axis=1) - pix.min(axis=1)).astype(np.int64)
    jnb = np.where(contrast <= 50, 5.0, 3.0)[:, None]
    keep = is_edge_block[:, None] & (widths != 0)
    w = widths[keep]
    if w.size == 0:
        return 0.0, 0.0
    p_blur = 1 - np.exp(-np.abs(w / np.broadcast_to(jnb, widths.shape)[keep]) ** BETA)
    return float(np.mean(np.round(p_blur * 100) <= P_JNB_BIN)), float(w.mean())


def extract(image: np.ndarray) -> np.ndarray:
    return np.array(cpbd_gray(rgb2gray(image)))


def score(image: np.ndarray) -> float:
    """CPBD sharpness in [0, 1]; higher = sharper."""
    return float(extract(image)[0])
