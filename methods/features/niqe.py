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
For that reason the 7x7 window stays a 2-D correlation summed in ``ndimage.correlate``'s
order (compiled: ``_filters.correlate_row_moments``, bit-identical), although the Gaussian is
separable: a separable filter rounds differently and moved scores by up to 5% on images
with flat areas (3.5e-2 and 5e-2 on two test images, 2e-5 on a JPEG reference image). The
per-block sums of the AGGD fits are compiled too (``_block_sums``, one pass per map and
band of blocks); they add up terms of one sign in another order than NumPy (~1e-15).
"""
from __future__ import annotations

import numpy as np
from scipy.special import gamma

from ._common import fspecial_gaussian, imresize_half, rgb2gray
from ._filters import correlate_row_moments, footprint, pad_for
from ._jit import compiled

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


def aggd_fit(sums: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Asymmetric GGD by moment matching (``estimateaggdparam.m``), one fit per row of sums:
    over n values, (sum of the squares of the negative values, of the positive ones, count of
    the negative values, of the positive ones, sum of the positive values, of the negative
    ones). Returns (shape, left scale, right scale)."""
    sq_neg, sq_pos, n_neg, n_pos, sum_pos, sum_neg = sums.T
    with np.errstate(invalid="ignore", divide="ignore"):  # an empty side: NaN scale, as the release
        left = np.sqrt(sq_neg / n_neg)
        right = np.sqrt(sq_pos / n_pos)
        g = left / right
        r = ((sum_pos - sum_neg) / n) ** 2 / ((sq_neg + sq_pos) / n)
        r_norm = r * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    shape = _nearest_shapes(r_norm)
    k = np.sqrt(gamma(1 / shape) / gamma(3 / shape))
    return shape, left * k, right * k


@compiled
def _block_sums(mscn, b, out):
    """out[k, m] = the aggd_fit sums of block k's map m, blocks in MATLAB's ``blkproc`` order
    (column by column), maps: the MSCN block, then its products with its copies circularly
    shifted by _SHIFTS (``circshift`` within the block). A band of blocks at a time, a whole
    row of the band per loop: the products go to a buffer, each sum to a per-column
    accumulator, so that the loops vectorise; each block then adds up its columns (the sums
    are of terms of one sign: their order changes them by ~1e-15)."""
    rows, cols = mscn.shape[0] // b, mscn.shape[1] // b
    width = cols * b
    x, acc = np.empty(width), np.empty((6, width))
    for r in range(rows):
        for m in range(1 + len(_SHIFTS)):
            acc[:] = 0.0
            for i in range(b):
                line = mscn[r * b + i, :width]
                if m == 0:
                    x[:] = line
                else:  # np.roll by (dr, dc) puts block[i - dr, j - dc] at (i, j)
                    dr, dc = _SHIFTS[m - 1]
                    other = mscn[r * b + (i - dr) % b, :width]
                    if dc == 0:
                        for j in range(width):
                            x[j] = line[j] * other[j]
                    elif dc == 1:
                        for j in range(1, width):
                            x[j] = line[j] * other[j - 1]
                        for c in range(cols):  # each block's first column wraps to its last
                            x[c * b] = line[c * b] * other[c * b + b - 1]
                    else:
                        for j in range(width - 1):
                            x[j] = line[j] * other[j + 1]
                        for c in range(cols):  # each block's last column wraps to its first
                            x[c * b + b - 1] = line[c * b + b - 1] * other[c * b]
                sq_neg, sq_pos, n_neg, n_pos, sum_pos, sum_neg = acc[0], acc[1], acc[2], acc[3], acc[4], acc[5]
                for j in range(width):
                    v = x[j]
                    neg, pos = min(v, 0.0), max(v, 0.0)
                    sq_neg[j] += neg * neg
                    sq_pos[j] += pos * pos
                    n_neg[j] += v < 0
                    n_pos[j] += v > 0
                    sum_pos[j] += pos
                    sum_neg[j] += neg
            for c in range(cols):
                for q in range(6):
                    out[c * rows + r, m, q] = acc[q, c * b: (c + 1) * b].sum()
    return out


def block_features(mscn: np.ndarray, b: int) -> np.ndarray:
    """The 18 features of each b x b block of an MSCN map, one row per block (``blkproc`` order)."""
    rows, cols = mscn.shape[0] // b, mscn.shape[1] // b
    sums = _block_sums(mscn, b, np.empty((rows * cols, 1 + len(_SHIFTS), 6)))
    shape, left, right = aggd_fit(sums[:, 0], b * b)
    feats = [shape, (left + right) / 2]
    for m in range(1, 1 + len(_SHIFTS)):  # products with the block circularly shifted within itself
        shape, left, right = aggd_fit(sums[:, m], b * b)
        feats += [shape, (right - left) * gamma(2 / shape) / gamma(1 / shape), left, right]
    return np.stack(feats, axis=1)


@compiled
def _mscn(p, tap_rows, tap_cols, weights, im, out):
    """(im - mu) / (sigma + 1), mu and sigma^2 + mu^2 the window's correlations with im and
    im * im (p: im padded), a row at a time."""
    n = im.shape[1]
    mu, mean_sq = np.empty(n), np.empty(n)
    for i in range(im.shape[0]):
        correlate_row_moments(p, i, tap_rows, tap_cols, weights, mu, mean_sq)
        line, out_line = im[i], out[i]
        for j in range(n):
            sigma = np.sqrt(np.abs(mean_sq[j] - mu[j] * mu[j]))
            out_line[j] = (line[j] - mu[j]) / (sigma + 1)
    return out


def mscn_map(im: np.ndarray) -> np.ndarray:
    """The MSCN map of a grey image: ``ndimage.correlate(., _WINDOW, mode="nearest")`` of im
    and im * im, summed as ndimage sums (2-D, not separable: see the module docstring)."""
    p = pad_for(im, _WINDOW.shape, "nearest")
    return _mscn(p, *footprint(_WINDOW), im, np.empty(im.shape))


def block_feature_matrix(gray: np.ndarray) -> np.ndarray:
    """One row of 2 x 18 features per 96x96 block of a 0..255 grey image."""
    rows, cols = (s // BLOCK for s in gray.shape)
    if not rows or not cols:
        raise ValueError(f"image too small ({gray.shape[0]}x{gray.shape[1]}); NIQE needs >= {BLOCK} px per side")
    im = gray[: rows * BLOCK, : cols * BLOCK]
    per_scale = []
    for scale in range(1, SCALES + 1):
        if scale > 1:
            im = imresize_half(im)
        per_scale.append(block_features(mscn_map(im), BLOCK // scale))
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
