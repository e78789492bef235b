"""DSIQA = CPBD: cumulative probability of blur detection (no-reference sharpness).

N. D. Narvekar, L. J. Karam, "A no-reference image blur metric based on the cumulative
probability of blur detection (CPBD)", IEEE TIP 20(9), 2011 (QoMEX 2009 for the first version).

A re-implementation of the ``cpbd`` PyPI package (v1.0.7, a port of the authors' MATLAB
release), which gives the same numbers (see tests/test_features.py). The package itself does
not import with current SciPy (``from scipy.ndimage import imread``), and its per-pixel
Python loops take seconds per image; here they are numba loops, the width walks over the
measured edge pixels only. Steps, as in the package:

* Canny edges (skimage's, default parameters: ``_canny``) decide which 64x64 blocks are edge blocks
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

import math

import numpy as np

from ._canny import canny_edges
from ._common import rgb2gray
from ._filters import correlate2d
from ._jit import compiled

VERSION = "1"
HIGHER_IS_BETTER = True
NAMES = ("cpbd", "mean_edge_width")
BLOCK = 64
EDGE_BLOCK_FRACTION = 0.002
BETA = 3.6
MAX_STEPS = 100   # the package scans at most 101 pixels on each side of an edge
P_JNB_BIN = 63    # CPBD counts the bins round(100 P) <= 63

_SOBEL = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]]) / 8


def sobel_edges(gray: np.ndarray) -> np.ndarray:
    """Octave-style ``edge(I, 'sobel')`` of the package: vertical edges, thinned."""
    s = correlate2d(gray, _SOBEL.T[::-1, ::-1], "reflect")  # ndimage.convolve: the flipped kernel
    s *= s
    return _thinned(s, 2 * np.sqrt(s.mean()), np.empty(gray.shape, dtype=bool))


@compiled
def _thinned(s, threshold, out):
    """The package's thinning: s is zeroed where <= threshold (and outside the image); a pixel
    is an edge where it exceeds both its left and right, or both its upper and lower neighbours."""
    rows, cols = s.shape
    for i in range(rows):
        for j in range(cols):
            c = _kept(s, i, j, threshold)
            out[i, j] = ((c > _kept(s, i, j - 1, threshold) and c > _kept(s, i, j + 1, threshold))
                         or (c > _kept(s, i - 1, j, threshold) and c > _kept(s, i + 1, j, threshold)))
    return out


@compiled
def _kept(s, i, j, threshold):
    if i < 0 or j < 0 or i >= s.shape[0] or j >= s.shape[1] or s[i, j] <= threshold:
        return 0.0
    return s[i, j]


def edge_widths(gray: np.ndarray, edges: np.ndarray, counted_blocks: np.ndarray, bh: int, bw: int):
    """(widths, block of each) of the edge pixels measured by the package's ``marziliano_method``
    inside the image and inside the counted complete bh x bw blocks (numbered row-major): those
    whose gradient angle rounds to 0 or 180 degrees."""
    n = np.count_nonzero(edges)
    rows, cols, blocks = (np.empty(n, dtype=np.int64) for _ in range(3))
    gy, gx = np.empty(n), np.empty(n)
    n = _edge_gradients(gray, edges, counted_blocks, bh, bw, rows, cols, blocks, gy, gx)
    if n == 0 or not _any_angle(gray):  # package quirk: no width at all when every angle is 0
        return np.empty(0), blocks[:0]
    gy, gx = gy[:n], gx[:n]
    angle = np.where(gx != 0, np.arctan2(gy, gx) * (180 / np.pi), 0.0)  # gx == 0 -> 0 (package quirk)
    q = 45 * np.round(angle / 45)
    widths = _marziliano_widths(gray, rows[:n], cols[:n], q == 0, np.abs(q) == 180, np.empty(n))
    measured = widths != 0
    return widths[measured], blocks[:n][measured]


@compiled
def _edge_gradients(gray, edges, counted_blocks, bh, bw, rows, cols, blocks, gy, gx):
    """Writes the position, block and ``np.gradient`` of the edge pixels inside the image and
    the counted blocks; returns their number."""
    height, width = gray.shape
    nh = width // bw
    n = 0
    for i in range(1, min(height - 1, (height // bh) * bh)):
        for block in range((i // bh) * nh, (i // bh + 1) * nh):
            if not counted_blocks[block]:
                continue
            left = (block % nh) * bw
            for j in range(max(left, 1), min(left + bw, width - 1)):
                if edges[i, j]:
                    rows[n], cols[n], blocks[n] = i, j, block
                    gy[n], gx[n] = (gray[i + 1, j] - gray[i - 1, j]) / 2.0, (gray[i, j + 1] - gray[i, j - 1]) / 2.0
                    n += 1
    return n


@compiled
def _any_angle(gray):
    """Whether ``np.gradient`` gives any pixel a non-zero ``arctan2(gy, gx)`` with gx != 0 (stops
    at the first one, usually in the first row)."""
    rows, cols = gray.shape
    for i in range(rows):
        up, down, scale_y = max(i - 1, 0), min(i + 1, rows - 1), 2.0 if 0 < i < rows - 1 else 1.0
        for j in range(cols):
            left, right, scale_x = max(j - 1, 0), min(j + 1, cols - 1), 2.0 if 0 < j < cols - 1 else 1.0
            gx = (gray[i, right] - gray[i, left]) / scale_x
            if gx != 0 and math.atan2((gray[down, j] - gray[up, j]) / scale_y, gx) != 0:
                return True
    return False


@compiled
def _marziliano_widths(gray, rows, cols, rising, falling, out):
    """Marziliano width 2 + left steps + right steps of each edge along its row (0 if neither
    rising nor falling): the profile keeps rising (or falling) between columns k and k+1 over
    k = j-2, j-3... on the left and k = j+1, j+2... on the right, at most MAX_STEPS each (the
    edge's own two steps are not checked)."""
    for e in range(len(rows)):
        if not (rising[e] or falling[e]):
            out[e] = 0.0
            continue
        line, j = gray[rows[e]], cols[e]
        left = 0
        while left < MAX_STEPS and j - 2 - left >= 0 and _keeps_going(line, j - 2 - left, rising[e]):
            left += 1
        right = 0
        while right < MAX_STEPS and j + 1 + right <= len(line) - 2 and _keeps_going(line, j + 1 + right, rising[e]):
            right += 1
        out[e] = 2 + left + right
    return out


@compiled
def _keeps_going(line, k, rising):
    d = line[k + 1] - line[k]
    return d > 0 if rising else d < 0


@compiled
def _block_stats(gray, edges, bh, bw, counts, contrast):
    """Per complete bh x bw block (row-major): its number of edge pixels and max - min of gray."""
    nh = gray.shape[1] // bw
    for b in range(len(counts)):
        top, left = (b // nh) * bh, (b % nh) * bw
        n, lo, hi = 0, np.inf, -np.inf
        for i in range(top, top + bh):
            for j in range(left, left + bw):
                n += edges[i, j]
                lo, hi = min(lo, gray[i, j]), max(hi, gray[i, j])
        counts[b], contrast[b] = n, hi - lo


def cpbd_gray(gray: np.ndarray) -> tuple[float, float]:
    """(CPBD, mean measured edge width) of a 0..255 grey image given as float64."""
    gray = np.ascontiguousarray(gray, dtype=np.float64)
    bh, bw = (BLOCK, BLOCK) if min(gray.shape) >= BLOCK else gray.shape
    nv, nh = gray.shape[0] // bh, gray.shape[1] // bw
    counts, contrast = np.empty(nv * nh, dtype=np.int64), np.empty(nv * nh)
    _block_stats(gray, canny_edges(gray), bh, bw, counts, contrast)
    is_edge_block = counts > bh * bw * EDGE_BLOCK_FRACTION
    jnb = np.where(contrast.astype(np.int64) <= 50, 5.0, 3.0)
    w, blocks = edge_widths(gray, sobel_edges(gray), is_edge_block, bh, bw)
    if w.size == 0:
        return 0.0, 0.0
    p_blur = 1 - np.exp(-np.abs(w / jnb[blocks]) ** BETA)
    return float(np.mean(np.round(p_blur * 100) <= P_JNB_BIN)), float(w.mean())


def extract(image: np.ndarray) -> np.ndarray:
    return np.array(cpbd_gray(rgb2gray(image)))


def score(image: np.ndarray) -> float:
    """CPBD sharpness in [0, 1]; higher = sharper."""
    return float(extract(image)[0])
