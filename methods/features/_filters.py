"""SciPy's image filters (1-D, and the 2-D ``correlate``), compiled with numba, bit-identical
to ``scipy.ndimage``.

``ndimage.correlate1d`` along axis 0 of a C-ordered image walks strided columns and is
3-6x slower than along axis 1, and a separable filter is two passes with a copy between
(``correlate_line`` does one output line, along either axis, for fused kernels);
``ndimage.correlate`` visits each tap of each pixel through an offset table (4-5x slower
than the row loops here, which also let an extractor fuse several filters in one pass).
The kernels here do the same float operations in the same order as ndimage's C loops
(``NI_Correlate1D``: a symmetric kernel sums the centre, then pairs (x[-j] + x[j]) * w[-j]
from the outermost in; an antisymmetric one the differences; any other kernel the last tap,
then the taps left to right. ``NI_Correlate``, the n-D filter: from 0.0, the taps in C order,
skipping those with |w| <= DBL_EPSILON), so the results equal ndimage's bit for bit
(tests/test_feature_filters.py checks every kernel kind and border mode used). numba never
reorders or fuses float operations unless asked to (no ``fastmath``), which is what keeps
the bits. ``correlate_symmetric_separable`` does a separable symmetric kernel's two passes in
one, row by row.
"""
from __future__ import annotations

import numpy as np

from ._jit import compiled

# ndimage border modes as numpy.pad modes
_PAD_MODES = {"constant": "constant", "nearest": "edge", "reflect": "symmetric", "mirror": "reflect", "wrap": "wrap"}
_EPS = np.finfo(np.float64).eps


def kernel_symmetry(w: np.ndarray) -> int:
    """ndimage's test: 1 symmetric, -1 antisymmetric (both within DBL_EPSILON), else 0."""
    if len(w) % 2 == 0:
        return 0
    half, centre = len(w) // 2, len(w) // 2
    left, right = w[centre - np.arange(1, half + 1)], w[centre + np.arange(1, half + 1)]
    if np.all(np.abs(right - left) <= _EPS):
        return 1
    return -1 if np.all(np.abs(right + left) <= _EPS) else 0


@compiled
def correlate_line(flat, start, width, cols, w, before, kind, out_row):
    """out_row[m] = sum over taps t of flat[start + t * width + m] * w[t], in ndimage's order;
    taps outer and outputs inner, so that the inner loops vectorise (over slices indexed from
    0: a loop over flat[at + m] does not)."""
    n = len(w)
    after = n - before - 1
    if kind != 0:
        base = start + before * width
        centre = flat[base: base + cols]
        for m in range(cols):
            out_row[m] = centre[m] * w[before]
        for k in range(before, 0, -1):
            lo, hi, wk = start + (before - k) * width, start + (before + k) * width, w[before - k]
            left, right = flat[lo: lo + cols], flat[hi: hi + cols]
            if kind > 0:
                for m in range(cols):
                    out_row[m] += (left[m] + right[m]) * wk
            else:
                for m in range(cols):
                    out_row[m] += (left[m] - right[m]) * wk
        return
    last = start + (before + after) * width
    tap = flat[last: last + cols]
    for m in range(cols):
        out_row[m] = tap[m] * w[n - 1]
    for t in range(n - 1):
        at, wt = start + t * width, w[t]
        tap = flat[at: at + cols]
        for m in range(cols):
            out_row[m] += tap[m] * wt


def gaussian_weights(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """The 1-D correlation weights of ``ndimage.gaussian_filter`` (``_gaussian_kernel1d``, order 0)."""
    radius = int(truncate * float(sigma) + 0.5)
    t = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * t**2)
    return np.ascontiguousarray((phi / phi.sum())[::-1])


@compiled
def symmetric_sum(x, j, w):
    """The correlation of the line x with a symmetric w centred at x[j + len(w) // 2], summed
    as ndimage does: the centre, then the pairs from the outermost in. w is a tuple: its
    length is then known when compiling, the tap loop unrolls, and a loop over j vectorises
    with the sum in a register."""
    r = len(w) // 2
    s = x[j + r] * w[r]
    for k in range(r, 0, -1):
        s += (x[j + r - k] + x[j + r + k]) * w[r - k]
    return s


@compiled
def _correlate_symmetric_separable(p, w, out):
    """Rows of ``out`` from p padded by r = len(w) // 2 on every side; ``line`` is the axis-0 pass."""
    r = len(w) // 2
    line = np.empty(p.shape[1])
    for i in range(out.shape[0]):
        for m in range(len(line)):
            s = p[i + r, m] * w[r]
            for k in range(r, 0, -1):
                s += (p[i + r - k, m] + p[i + r + k, m]) * w[r - k]
            line[m] = s
        o = out[i]
        for j in range(len(o)):
            o[j] = symmetric_sum(line, j, w)
    return out


def correlate_symmetric_separable(x: np.ndarray, w, mode: str = "reflect") -> np.ndarray:
    """``ndimage.correlate1d`` with w along axis 0, then along axis 1 (cval 0), for a symmetric
    odd-length w, bit for bit, in one pass: each row's axis-0 pass goes to a one-row buffer
    that the axis-1 pass reads.

    The input is padded along both axes at once; the axis-0 pass over a padded column equals
    ndimage's padding of the intermediate for every mode (a constant column of zeros stays 0)."""
    w = np.ascontiguousarray(w, dtype=np.float64)
    if kernel_symmetry(w) != 1:
        raise ValueError("correlate_symmetric_separable needs a symmetric odd-length kernel")
    r = len(w) // 2
    p = np.pad(np.asarray(x, dtype=np.float64), r, mode=_PAD_MODES[mode])
    return _correlate_symmetric_separable(p, tuple(w), np.empty(np.shape(x)))


def footprint(kernel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The taps ``NI_Correlate`` sums, in its order: (row offsets, column offsets, weights) of
    the weights with |w| > DBL_EPSILON, in C order; offsets from the padded top-left corner."""
    k = np.asarray(kernel, dtype=np.float64)
    rows, cols = np.nonzero(np.abs(k) > _EPS)
    return rows, cols, np.ascontiguousarray(k[rows, cols])


@compiled
def _tap(p, i, tap_rows, tap_cols, t, n):
    """The n padded pixels tap t reads for output row i: a slice indexed from 0 (an inner
    loop over p[., c + j] does not vectorise)."""
    return p[i + tap_rows[t], tap_cols[t]: tap_cols[t] + n]


@compiled
def _four_taps(p, i, tap_rows, tap_cols, weights, t, n):
    """Taps t .. t + 3: their pixel slices (as _tap) and their weights."""
    slices = (_tap(p, i, tap_rows, tap_cols, t, n), _tap(p, i, tap_rows, tap_cols, t + 1, n),
              _tap(p, i, tap_rows, tap_cols, t + 2, n), _tap(p, i, tap_rows, tap_cols, t + 3, n))
    return slices, (weights[t], weights[t + 1], weights[t + 2], weights[t + 3])


@compiled
def correlate_row(p, i, tap_rows, tap_cols, weights, acc):
    """acc[j] = 0.0 + w_0 * p[i + r_0, j + c_0] + w_1 * p[i + r_1, j + c_1] + ..., over the
    footprint's taps in order. Taps outer and pixels inner, so that the inner loops vectorise;
    four taps per pass (same additions, same order), so that acc is loaded and stored a
    quarter as often."""
    n, t, taps = len(acc), 0, len(weights)
    acc[:] = 0.0
    while t + 4 <= taps:
        (s0, s1, s2, s3), (w0, w1, w2, w3) = _four_taps(p, i, tap_rows, tap_cols, weights, t, n)
        for j in range(n):
            acc[j] = acc[j] + w0 * s0[j] + w1 * s1[j] + w2 * s2[j] + w3 * s3[j]
        t += 4
    for t in range(t, taps):
        src, w = _tap(p, i, tap_rows, tap_cols, t, n), weights[t]
        for j in range(n):
            acc[j] += w * src[j]


@compiled
def correlate_row_moments(p, i, tap_rows, tap_cols, weights, acc, acc_sq):
    """correlate_row of p into acc and of p * p into acc_sq, in one walk over the taps (for
    local means and variances; p * p of the padded p equals padding x * x, except under a
    constant border other than 0)."""
    n, t, taps = len(acc), 0, len(weights)
    acc[:] = 0.0
    acc_sq[:] = 0.0
    while t + 4 <= taps:
        (s0, s1, s2, s3), (w0, w1, w2, w3) = _four_taps(p, i, tap_rows, tap_cols, weights, t, n)
        for j in range(n):
            a, b, c, d = s0[j], s1[j], s2[j], s3[j]
            acc[j] = acc[j] + w0 * a + w1 * b + w2 * c + w3 * d
            acc_sq[j] = acc_sq[j] + w0 * (a * a) + w1 * (b * b) + w2 * (c * c) + w3 * (d * d)
        t += 4
    for t in range(t, taps):
        src, w = _tap(p, i, tap_rows, tap_cols, t, n), weights[t]
        for j in range(n):
            acc[j] += w * src[j]
            acc_sq[j] += w * (src[j] * src[j])


@compiled
def _correlate2d(p, tap_rows, tap_cols, weights, out):
    for i in range(out.shape[0]):
        correlate_row(p, i, tap_rows, tap_cols, weights, out[i])
    return out


def pad_for(x: np.ndarray, shape, mode: str, cval: float = 0.0) -> np.ndarray:
    """x padded as ndimage extends it under a kernel of this shape (centred: origin 0)."""
    widths = [(n // 2, n - n // 2 - 1) for n in shape]
    pad = {"constant_values": cval} if mode == "constant" else {}
    return np.pad(np.asarray(x, dtype=np.float64), widths, mode=_PAD_MODES[mode], **pad)


def correlate2d(x: np.ndarray, kernel, mode: str = "reflect", cval: float = 0.0) -> np.ndarray:
    """``ndimage.correlate(x, kernel, mode=mode, cval=cval)`` for a 2-D float64 x and 2-D kernel."""
    kernel = np.asarray(kernel, dtype=np.float64)
    return _correlate2d(pad_for(x, kernel.shape, mode, cval), *footprint(kernel), np.empty(np.shape(x)))
