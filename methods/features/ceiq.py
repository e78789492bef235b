"""CEIQ: no-reference quality of contrast-distorted images using contrast enhancement.

J. Yan, J. Li, X. Fu, "No-reference quality assessment of contrast-distorted images using
contrast enhancement", arXiv:1904.04882. Features follow the authors' release ``CEIQ.m``
(github.com/mtobeiyf/CEIQ, MIT): grey image (MATLAB ``rgb2gray``), its histogram
equalisation (MATLAB ``histeq`` default: flat target histogram with 64 levels), then

    f1 = mean SSIM(grey, equalised)                        (MATLAB ``ssim``)
    f2, f3 = entropies of the 128-bin histograms of grey and equalised
    f4, f5 = cross-entropies -sum h1 log2 h2 and -sum h2 log2 h1
(entropy sums run over the bins where both histograms are non-zero, as in the release).

``score()`` is f1 alone, the similarity between the image and its contrast-enhanced
version (the paper's core idea), training-free: the ``ceiq`` row, shown as "CEIQ (f1)".
The published score maps the 5 features through the release's LIBSVM SVR trained on
CCID2014 (``model.mat``, a linear kernel): the ``ceiq-release`` row, which reproduces the
MATLAB scores in the release's README. Higher is better.
"""
from __future__ import annotations

import numpy as np

from ._common import rgb2gray, ssim_map
from ._jit import compiled

VERSION = "1"
HIGHER_IS_BETTER = True
NAMES = ("ssim_to_equalised", "entropy", "entropy_equalised", "cross_entropy", "cross_entropy_equalised")
HE_LEVELS = 64      # MATLAB histeq(I) default number of output levels
HIST_BINS = 128     # histogram size used by the release for the entropies


def histeq_lut(counts: np.ndarray, levels: int = HE_LEVELS) -> np.ndarray:
    """MATLAB ``histeq(uint8_image, levels)`` with a flat target histogram, as the float64 look-up
    table of the 256 grey levels, from the image's level counts."""
    n = int(counts.sum())
    cum = np.cumsum(counts.astype(np.float64))
    target = np.cumsum(np.full(levels, n / levels))
    tol = np.concatenate([[0.0], counts[1:-1], [0.0]]) / 2  # MATLAB's half-bin tolerance
    # For each input level: first target level whose cumulative count reaches cum - tol.
    idx = np.searchsorted(target, cum - tol - n * np.sqrt(np.finfo(float).eps), side="left")
    return np.floor(np.minimum(idx, levels - 1) / (levels - 1) * 255 + 0.5)


def _hist(values: np.ndarray, counts: np.ndarray, bins: int = HIST_BINS) -> np.ndarray:
    """MATLAB ``imhist(uint8, bins) / numel`` of an image holding ``values[v]`` ``counts[v]``
    times: each value goes to the nearest of ``bins`` evenly spaced centres."""
    idx = np.floor(values * ((bins - 1) / 255) + 0.5).astype(np.int64)
    return np.bincount(idx, weights=counts, minlength=bins) / counts.sum()


@compiled
def _level_counts(gray):
    """How many pixels hold each grey level 0..255 (``np.bincount`` of the integer levels)."""
    counts = np.zeros(256, dtype=np.int64)
    for v in gray.ravel():
        counts[int(v)] += 1
    return counts


@compiled
def _look_up(gray, lut, out):
    """``lut[gray]`` for an image of integer levels."""
    for i in range(gray.shape[0]):
        for j in range(gray.shape[1]):
            out[i, j] = lut[int(gray[i, j])]
    return out


def extract(image: np.ndarray) -> np.ndarray:
    gray = rgb2gray(image)  # the integers 0..255, as float64
    counts = _level_counts(gray)
    lut = histeq_lut(counts)
    h1, h2 = _hist(np.arange(256.0), counts), _hist(lut, counts)
    ok = (h1 > 0) & (h2 > 0)
    l1, l2 = np.log2(h1[ok]), np.log2(h2[ok])
    return np.array([
        ssim_map(gray, _look_up(gray, lut, np.empty(gray.shape))).mean(),
        -np.sum(h1[ok] * l1), -np.sum(h2[ok] * l2),
        -np.sum(h1[ok] * l2), -np.sum(h2[ok] * l1),
    ])


def score(image: np.ndarray) -> float:
    """Training-free CEIQ score: mean SSIM between the image and its equalised version."""
    return float(extract(image)[0])
