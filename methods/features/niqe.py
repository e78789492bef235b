"""NIQE: the distance of an image's NSS features from a pristine multivariate Gaussian.

A. Mittal, R. Soundararajan, A. C. Bovik, "Making a 'completely blind' image quality
analyzer", IEEE SPL 20(3), 2013. Follows the authors' release (``computequality.m``,
``computefeature.m``, ``estimateaggdparam.m``) with its pristine model
(``modelparameters.mat``, mu_prisparam / cov_prisparam) and the call of its readme
(96x96 blocks, no overlap), in float64 throughout:

* grey image (MATLAB ``rgb2gray``, rounded), cropped to whole 96x96 blocks;
* at 2 scales (MATLAB ``imresize(., 0.5)`` between them): MSCN map with a 7x7 Gaussian
  (sigma 7/6, replicate padding, C = 1); per block (96 px, then 48 px) 18 features: the AGGD
  fit of the MSCN block (shape, mean scale) and of its products with 4 circularly shifted
  copies (shape, mean, left and right scale);
* the blocks' features fitted by a Gaussian (NaN-aware mean, covariance of NaN-free rows);
  score = sqrt(d' pinv((C_pristine + C_image) / 2) d), d = difference of the means.

Lower is better. The result is sensitive to float rounding on near-flat blocks (their MSCN
values are rounding noise), where MATLAB, Octave and this code can differ by a few percent.
For that reason the 7x7 window stays a 2-D ``ndimage.correlate``, although the Gaussian is
separable: a separable filter rounds differently and moved scores by up to 5% on images
with flat areas (3.5e-2 and 5e-2 on two test images, 2e-5 on a JPEG reference image).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.special import gamma

from ._common import fspecial_gaussian, imresize_half, rgb2gray

VERSION = "2"  # 2: this port of the release (1 was pyiqa's NIQE)
HIGHER_IS_BETTER = False
BLOCK = 96
SCALES = 2
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))
_WINDOW = fspecial_gaussian(7, 7 / 6)
_SHAPES = np.arange(0.2, 10.0005, 0.001)
_RATIO = gamma(2 / _SHAPES) ** 2 / (gamma(1 / _SHAPES) * gamma(3 / _SHAPES))


def _nearest_shapes(r_norm: np.ndarray) -> np.ndarray:
    """Per value, the shape whose ratio is nearest (the first one on a tie), as
    ``_SHAPES[argmin((_RATIO - r) ** 2)]``; _RATIO increases, so only the two grid values
    around r can be nearest. A NaN ratio (an empty side) selects the first shape, as
    MATLAB's min over NaNs does."""
    finite = np.isfinite(r_norm)
    r = np.where(finite, r_norm, 0.0)
    hi = np.clip(np.searchsorted(_RATIO, r), 1, len(_RATIO) - 1)
    lo = hi - 1
    pick = np.where((_RATIO[lo] - r) ** 2 <= (_RATIO[hi] - r) ** 2, lo, hi)
    return np.where(finite, _SHAPES[pick], _SHAPES[0])


def aggd_fit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Asymmetric GGD by moment matching, one fit per row of v: (shape, left scale, right scale)."""
    neg, pos = np.minimum(v, 0), np.maximum(v, 0)
    sq_neg, sq_pos = np.einsum("ij,ij->i", neg, neg), np.einsum("ij,ij->i", pos, pos)
    with np.errstate(invalid="ignore", divide="ignore"):  # an empty side: NaN scale, as the release
        left = np.sqrt(sq_neg / np.count_nonzero(v < 0, axis=1))
        right = np.sqrt(sq_pos / np.count_nonzero(v > 0, axis=1))
        g = left / right
        r = ((pos.sum(axis=1) - neg.sum(axis=1)) / v.shape[1]) ** 2 / ((sq_neg + sq_pos) / v.shape[1])
        r_norm = r * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    shape = _nearest_shapes(r_norm)
    k = np.sqrt(gamma(1 / shape) / gamma(3 / shape))
    return shape, left * k, right * k


def block_features(blocks: np.ndarray) -> np.ndarray:
    """The 18 features of each block of an (n, b, b) stack of MSCN blocks, one row per block."""
    flat = blocks.reshape(len(blocks), -1)
    shape, left, right = aggd_fit(flat)
    feats = [shape, (left + right) / 2]
    for shift in _SHIFTS:  # products with the block circularly shifted within itself
        shape, left, right = aggd_fit((blocks * np.roll(blocks, shift, axis=(1, 2))).reshape(len(blocks), -1))
        feats += [shape, (right - left) * gamma(2 / shape) / gamma(1 / shape), left, right]
    return np.stack(feats, axis=1)


def block_feature_matrix(gray: np.ndarray) -> np.ndarray:
    """One row of 2 x 18 features per 96x96 block of a 0..255 grey image."""
    rows, cols = (s // BLOCK for s in gray.shape)
    if not rows or not cols:
        raise ValueError(f"image too small ({gray.shape[0]}x{gray.shape[1]}); NIQE needs >= {BLOCK} px per side")
    im = gray[: rows * BLOCK, : cols * BLOCK]
    per_scale = []
    for scale in range(1, SCALES + 1):
        mu = ndimage.correlate(im, _WINDOW, mode="nearest")  # 2-D, not separable: see the module docstring
        sigma = np.sqrt(np.abs(ndimage.correlate(im * im, _WINDOW, mode="nearest") - mu * mu))
        mscn = (im - mu) / (sigma + 1)
        b = BLOCK // scale
        # blocks in MATLAB's blkproc order (column by column), not that it matters for a mean
        blocks = mscn.reshape(rows, b, cols, b).transpose(2, 0, 1, 3).reshape(rows * cols, b, b)
        per_scale.append(block_features(blocks))
        im = imresize_half(im)
    return np.hstack(per_scale)


def read_pristine(path) -> tuple[np.ndarray, np.ndarray]:
    """(mu, cov) of the pristine model from the release's ``.mat`` (mu_prisparam,
    cov_prisparam) or BasicSR's ``.npz`` of the same values (mu_pris_param, cov_pris_param)."""
    if str(path).endswith(".npz"):
        with np.load(path, allow_pickle=False) as params:
            return params["mu_pris_param"], params["cov_pris_param"]
    from scipy.io import loadmat

    params = loadmat(path)
    return params["mu_prisparam"], params["cov_prisparam"]


def quality(gray: np.ndarray, mu_pristine: np.ndarray, cov_pristine: np.ndarray) -> float:
    feats = block_feature_matrix(gray)
    mu = np.nanmean(feats, axis=0)
    complete = feats[~np.isnan(feats).any(axis=1)]
    if not len(complete):
        raise ValueError("NIQE: no block of the image has finite features (flat image?)")
    # One block (images under 192 px a side): MATLAB's nancov takes a single row as one
    # variable and returns its variance, a scalar the release then adds to every entry.
    cov = np.cov(complete, rowvar=False) if len(complete) > 1 else np.var(complete[0], ddof=1)
    d = np.ravel(mu_pristine) - mu
    return float(np.sqrt(d @ np.linalg.pinv((cov_pristine + cov) / 2) @ d))


def score(image: np.ndarray, mu_pristine: np.ndarray, cov_pristine: np.ndarray) -> float:
    return quality(rgb2gray(image), mu_pristine, cov_pristine)
