"""HIGRADE-1: gradient and log-derivative NSS features in LAB space (216-d).

D. Kundu, D. Ghadiyaram, A. C. Bovik, B. L. Evans, "No-reference quality assessment of
tone-mapped HDR pictures", IEEE TIP 26(6), 2017. This is the HIGRADE-1 variant, following
the authors' release (github.com/utlive/higrade: ``higrade_1.m``, ``higrade_grad_log.m``,
``higrade_spatial.m``, ``nakafit.m``):

* sRGB -> CIELAB as MATLAB ``applycform(uint8, makecform('srgb2lab'))``, i.e. uint8-encoded
  L*255/100, a+128, b+128 (ICC D50 white, Bradford-adapted sRGB matrix);
* for each LAB channel, and for its Sobel gradient magnitude (``imgradient``), at 2 scales
  (MATLAB ``imresize(., 0.5)`` bicubic between them), 18 features:
  - MSCN map with a 7x7 Gaussian window (sigma 7/6, zero-padded ``filter2``, C = 1);
  - Nakagami-style moments of the local sigma map: mean and (mean/std)^2;
  - GGD (sigma, shape) of the MSCN map;
  - GGD of 7 log-derivatives of log(|MSCN| + 0.1) (DESIQUE): 4 neighbour differences
    (circular shifts (0,1), (1,0), (1,1), (-1,1)), the 2x2 cross difference and two
    3x3 second-order filters;
  => 3 channels x {image, gradient} x 2 scales x 18 = 216 features.

The release lacks ``gaussian_para_esti.m`` (a DESIQUE helper); we follow DESIQUE's
(moment matching about the sample mean, shape grid 0.2..10, step 0.001). Verified against
the release run under GNU Octave (tests/test_reference_values.py); the sRGB->Lab step there
follows MATLAB's documented definition, not MATLAB itself. Degenerate (constant) maps give
finite placeholder values instead of NaN/inf.
The release ships an SVR trained on ESPL-LIVE HDR; the benchmark trains its own regressor.
"""
from __future__ import annotations

import functools

import numpy as np

from ._common import check_rgb, gaussian_taps, ggd_fit_moments, imresize_half
from ._filters import symmetric_sum
from ._jit import compiled

VERSION = "2"  # 2: GGD fits about the sample mean, as DESIQUE's estimator
SCALES = 2
_WINDOW_1D = tuple(gaussian_taps(7, 7 / 6))  # a tuple: symmetric_sum's taps unroll

_FEATS = ("sigma_mean", "sigma_shape", "mscn_std", "mscn_shape") + tuple(
    f"{d}_{p}" for d in ("dh", "dv", "dd1", "dd2", "dcross", "d2a", "d2b") for p in ("std", "shape"))
NAMES = tuple(f"{ch}_{src}_s{s}_{f}" for ch in "Lab" for src in ("img", "grad")
              for s in range(1, SCALES + 1) for f in _FEATS)

# sRGB -> XYZ (D50, Bradford-adapted) and the D50 white, as in ICC sRGB profiles.
_RGB2XYZ_D50 = np.array([[0.4360747, 0.3850649, 0.1430804],
                         [0.2225045, 0.7168786, 0.0606169],
                         [0.0139322, 0.0971045, 0.7141733]])
_WHITE_D50 = np.array([0.9642, 1.0, 0.8249])
_C = np.arange(256) / 255.0
_SRGB_TO_LINEAR = np.where(_C <= 0.04045, _C / 12.92, ((_C + 0.055) / 1.055) ** 2.4)  # uint8 LUT


def lab_uint8(image: np.ndarray) -> np.ndarray:
    """MATLAB ``applycform(uint8 RGB, makecform('srgb2lab'))`` as float64 uint8 codes, one
    plane per channel (L, a, b). Equal to the array form (LUT, matrix product, cbrt) on all
    2^24 colours (checked when this was written)."""
    xyz = _xyz_over_white(check_rgb(image), _SRGB_TO_LINEAR, _RGB2XYZ_D50, _WHITE_D50)
    return _lab_codes(xyz, np.cbrt(xyz))  # numpy's vectorised cbrt: 4x faster than a loop's


@compiled
def _xyz_over_white(rgb, to_linear, rgb2xyz, white):
    out = np.empty((3,) + rgb.shape[:2])
    for i in range(rgb.shape[0]):
        for j in range(rgb.shape[1]):
            r, g, b = to_linear[rgb[i, j, 0]], to_linear[rgb[i, j, 1]], to_linear[rgb[i, j, 2]]
            for k in range(3):
                out[k, i, j] = (r * rgb2xyz[k, 0] + g * rgb2xyz[k, 1] + b * rgb2xyz[k, 2]) / white[k]
    return out


@compiled
def _lab_codes(t, cube_root):
    """CIE f(t) (the cube root above (6/29)^3, linear below), then L*255/100, a+128, b+128
    rounded and clipped to 0..255; written over ``t``."""
    cut, below, offset = (6 / 29) ** 3, 3 * (6 / 29) ** 2, 4 / 29
    for i in range(t.shape[1]):
        for j in range(t.shape[2]):
            x = cube_root[0, i, j] if t[0, i, j] > cut else t[0, i, j] / below + offset
            y = cube_root[1, i, j] if t[1, i, j] > cut else t[1, i, j] / below + offset
            z = cube_root[2, i, j] if t[2, i, j] > cut else t[2, i, j] / below + offset
            t[0, i, j] = min(max(np.floor((116 * y - 16) * (255 / 100) + 0.5), 0.0), 255.0)
            t[1, i, j] = min(max(np.floor(500 * (x - y) + 128 + 0.5), 0.0), 255.0)
            t[2, i, j] = min(max(np.floor(200 * (y - z) + 128 + 0.5), 0.0), 255.0)
    return t


def _nakagami(sigma: np.ndarray) -> list[float]:
    """Mean and (mean / std)^2 of sigma + eps (std with n - 1)."""
    m, s = _mean_and_std(sigma, np.finfo(float).eps)
    return [m, (m / s) ** 2 if s > 0 else 0.0]


@compiled
def _mean_and_std(x, offset):
    """Mean and sample standard deviation (n - 1) of x + offset, two passes as numpy's
    ``std`` takes them, without the shifted copy; each sum down the columns (a loop that
    vectorises), then across."""
    h, w = x.shape
    columns = np.zeros(w)
    for i in range(h):
        row = x[i]
        for j in range(w):
            columns[j] += row[j] + offset
    mean = columns.sum() / (h * w)
    columns[:] = 0.0
    for i in range(h):
        row = x[i]
        for j in range(w):
            d = (row[j] + offset) - mean
            columns[j] += d * d
    return mean, np.sqrt(columns.sum() / (h * w - 1))


def mscn_maps(im: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``higrade_spatial.m``'s local sigma, MSCN map (7x7 Gaussian window, C = 1) and
    lg = log(|MSCN| + 0.1), the map DESIQUE's log-derivatives are taken of."""
    sigma, mscn, lg = _local_statistics(np.ascontiguousarray(im, dtype=np.float64), _WINDOW_1D)
    return sigma, mscn, np.log(lg, out=lg)  # numpy's log, as before: the same bits


@compiled
def _local_statistics(im, g):
    """sigma = sqrt(|G(im^2) - G(im)^2|), MSCN = (im - G(im)) / (sigma + 1) and |MSCN| + 0.1,
    G the zero-padded separable window ``g`` (``gaussian_taps``, as a tuple). Both blurs are summed as
    ndimage sums them (rows, then columns; centre tap, then pairs from the outermost in; a
    tap beyond the border adds 0.0), so the values equal the two-filter form bit for bit.
    One output row at a time: the row pass goes into zero-padded row buffers, which the
    column pass reads with no border tests."""
    h, w = im.shape
    r = len(g) // 2
    zero_row = np.zeros(w)
    mean_row, square_row = np.zeros(w + 2 * r), np.zeros(w + 2 * r)
    sigma, mscn, shifted_abs = np.empty((h, w)), np.empty((h, w)), np.empty((h, w))
    for i in range(h):
        _row_pass(im, i, g, zero_row, mean_row[r: r + w], square_row[r: r + w])
        mu, square = sigma[i], mscn[i]  # output rows, used as scratch first
        for j in range(w):  # the column pass
            mu[j], square[j] = symmetric_sum(mean_row, j, g), symmetric_sum(square_row, j, g)
        _normalised(im[i], mu, square, shifted_abs[i])
    return sigma, mscn, shifted_abs


@compiled
def _row_pass(x, i, g, zero_row, mean_out, square_out):
    """Row i of ndimage's zero-padded correlate1d along axis 0 with the symmetric ``g``, of x
    and of x^2."""
    r, h = len(g) // 2, x.shape[0]
    centre, tap = x[i], g[r]
    for j in range(len(centre)):
        mean_out[j], square_out[j] = centre[j] * tap, (centre[j] * centre[j]) * tap
    for k in range(r, 0, -1):
        above = x[i - k] if i >= k else zero_row
        below = x[i + k] if i + k < h else zero_row
        tap = g[r - k]
        for j in range(len(centre)):
            mean_out[j] += (above[j] + below[j]) * tap
            square_out[j] += (above[j] * above[j] + below[j] * below[j]) * tap


@compiled
def _normalised(x, mu, blurred_square, shifted_abs):
    """In place: mu -> sigma and blurred_square -> MSCN; and |MSCN| + 0.1."""
    for j in range(len(x)):
        s = np.sqrt(np.abs(blurred_square[j] - mu[j] * mu[j]))
        m = (x[j] - mu[j]) / (s + 1)
        mu[j], blurred_square[j], shifted_abs[j] = s, m, np.abs(m) + 0.1


def _centred_moments(mscn: np.ndarray, lg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per fitted map (see _fitted_values): the mean square and mean absolute value about its
    mean, as DESIQUE's moment-matching GGD fit takes them.

    The means come without a pass over the maps: a circular difference (maps 1-5) sums to 0,
    and a zero-padded filter (maps 6, 7) to a few border terms, so only the MSCN map's mean
    is summed. (Summed, the other means differ from these by rounding noise, ~1e-19.)"""
    h, w = lg.shape
    means = np.zeros(8)
    means[0] = mscn.mean()
    means[6] = (lg[:, 0].sum() + lg[:, -1].sum() - lg[0].sum() - lg[-1].sum()) / (h * w)
    means[7] = (lg[-1, -1] - lg[-1, 0] - lg[0, -1] + lg[0, 0]) / (h * w)
    squares, absolutes = _moments_about(mscn, np.pad(lg, 1, mode="wrap"), np.pad(lg, 1), means)
    return squares / (h * w), absolutes / (h * w)


@compiled
def _fitted_values(mscn, wrapped, zeroed, i, j0, out):
    """Row i, columns j0.. of each fitted map: the MSCN map and DESIQUE's 7 log-derivatives
    of lg, each computed as the release's array expression computes it: lg - circshift(lg, s)
    for the 4 shifts, lg + shift(1,1) - shift(0,1) - shift(1,0), and the zero-padded
    ``filter2`` with [0 1 0; -1 0 -1; 0 1 0] and [1 0 -1; 0 0 0; -1 0 1]. ``wrapped`` and
    ``zeroed`` are lg padded by 1 circularly and with zeros: no pixel needs a border test.
    One loop per map: a loop writing one row vectorises, one writing eight does not."""
    width = out.shape[1]
    up, centre, down = wrapped[i, j0:], wrapped[i + 1, j0:], wrapped[i + 2, j0:]
    z_up, z_centre, z_down = zeroed[i, j0:], zeroed[i + 1, j0:], zeroed[i + 2, j0:]
    row = mscn[i, j0:]
    v = out[0]
    for n in range(width):
        v[n] = row[n]
    v = out[1]
    for n in range(width):
        v[n] = centre[n + 1] - centre[n]
    v = out[2]
    for n in range(width):
        v[n] = centre[n + 1] - up[n + 1]
    v = out[3]
    for n in range(width):
        v[n] = centre[n + 1] - up[n]
    v = out[4]
    for n in range(width):
        v[n] = centre[n + 1] - down[n]
    v = out[5]
    for n in range(width):
        v[n] = centre[n + 1] + up[n] - centre[n] - up[n + 1]
    v = out[6]
    for n in range(width):
        v[n] = z_up[n + 1] + z_down[n + 1] - z_centre[n] - z_centre[n + 2]
    v = out[7]
    for n in range(width):
        v[n] = z_up[n] - z_up[n + 2] - z_down[n] + z_down[n + 2]


@compiled
def _moments_about(mscn, wrapped, zeroed, means):
    """Per fitted map: sum((v - mean)^2) and sum(|v - mean|). The maps are rebuilt a strip of
    columns at a time and summed down the columns (element-wise loops, which vectorise, over
    accumulators that stay in cache), then across."""
    h, w = mscn.shape
    strip = 128
    squares, absolutes = np.zeros(8), np.zeros(8)
    for j0 in range(0, w, strip):
        width = min(strip, w - j0)
        values = np.empty((8, width))
        column_sq, column_abs = np.zeros((8, width)), np.zeros((8, width))
        for i in range(h):
            _fitted_values(mscn, wrapped, zeroed, i, j0, values)
            for k in range(8):
                v, sq, ab, centre = values[k], column_sq[k], column_abs[k], means[k]
                for n in range(width):
                    d = v[n] - centre
                    sq[n] += d * d
                    ab[n] += abs(d)
        squares += column_sq.sum(axis=1)
        absolutes += column_abs.sum(axis=1)
    return squares, absolutes


def _scale_features(im: np.ndarray) -> list[float]:
    """DESIQUE/BRISQUE-style ``spatial_feature`` of ``higrade_spatial.m`` (18 values)."""
    sigma, mscn, lg = mscn_maps(im)
    feats = _nakagami(sigma)
    for mean_square, mean_abs in zip(*_centred_moments(mscn, lg)):
        feats += ggd_fit_moments(mean_square, mean_abs)
    return feats


def _multiscale(im: np.ndarray) -> list[float]:
    feats = []
    for s in range(SCALES):
        if s:
            im = imresize_half(im)
        feats += _scale_features(im)
    return feats


@functools.cache
def _hypot_table() -> np.ndarray:
    """np.hypot(gx, gy) for every |Sobel| pair of an 8-bit image (0..1020 each): looked up
    instead of computed, because libm's hypot costs more than everything else in the
    gradient (8 MB, made once per process)."""
    values = np.arange(4 * 255 + 1, dtype=np.float64)
    return np.hypot(values[:, None], values[None, :])


@compiled
def _sobel_magnitude_of_codes(codes, hypot_table):
    """``imgradient``'s Sobel magnitude with replicated borders (``np.hypot`` of scipy's
    ``sobel`` along both axes, mode "nearest") of a plane of integer codes 0..255: every
    sum is of small integers, so exact in any order, and the magnitude is looked up."""
    h, w = codes.shape
    out = np.empty((h, w))
    for i in range(h):
        up, down = max(i - 1, 0), min(i + 1, h - 1)
        for j in range(w):
            left, right = max(j - 1, 0), min(j + 1, w - 1)
            along_rows = (codes[down, left] - codes[up, left]) + 2 * (codes[down, j] - codes[up, j]) \
                + (codes[down, right] - codes[up, right])
            along_cols = (codes[up, right] - codes[up, left]) + 2 * (codes[i, right] - codes[i, left]) \
                + (codes[down, right] - codes[down, left])
            out[i, j] = hypot_table[int(abs(along_rows)), int(abs(along_cols))]
    return out


def extract(image: np.ndarray) -> np.ndarray:
    feats = []
    for ch in lab_uint8(image):
        feats += _multiscale(ch) + _multiscale(_sobel_magnitude_of_codes(ch, _hypot_table()))
    return np.asarray(feats, dtype=np.float64)
