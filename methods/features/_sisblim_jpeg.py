"""SISBLIM step 4 compiled with numba: the sums behind the Wang-Sheikh-Bovik JPEG features,
both directions in one pass over the image (numpy took a difference image, its transpose's,
their absolute values and sign products, each a full-size temporary).

The zero-crossing counts are exact; the sums of absolute differences are taken per column,
then over the columns (relative change ~1e-13 against numpy's pairwise sums).
"""
from __future__ import annotations

import numpy as np

from ._jit import compiled


@compiled
def _grid_end(n):
    """Of the n - 1 differences along a line of n values, 7, 15, ... below this one cross
    the 8x8 grid (Wang et al.: up to 8 * (n // 8 - 1), at least one)."""
    return min(8 * max(n // 8 - 1, 1), n - 1)


@compiled
def jpeg_sums(x):
    """For the differences d of x along its rows (horizontal) and down its columns
    (vertical), each: (sum of |d|, how many d, sum of |d| across the 8x8 grid, how many,
    neighbouring d of opposite signs (d[k] * d[k + 1] < 0), how many pairs)."""
    h, w = x.shape
    abs_h, abs_v, grid_h, grid_v = np.zeros(w - 1), np.zeros(w), np.zeros(w - 1), np.zeros(w)
    cross_h = cross_v = 0
    dh, dv, dv_above = np.empty(w - 1), np.empty(w), np.empty(w)
    for i in range(h):
        # slices, so that the loops index plainly and vectorise
        row, right, left = x[i], x[i, 1:], x[i, : w - 1]
        for j in range(w - 1):
            dh[j] = right[j] - left[j]
            abs_h[j] += abs(dh[j])
        for j in range(7, _grid_end(w), 8):
            grid_h[j] += abs(dh[j])
        first, second = dh[: w - 2], dh[1:]
        for j in range(w - 2):
            cross_h += first[j] * second[j] < 0
        if i == h - 1:
            break
        below = x[i + 1]
        for j in range(w):
            dv[j] = below[j] - row[j]
            abs_v[j] += abs(dv[j])
        if i % 8 == 7 and i < _grid_end(h):
            for j in range(w):
                grid_v[j] += abs(dv[j])
        if i > 0:
            for j in range(w):
                cross_v += dv_above[j] * dv[j] < 0
        dv, dv_above = dv_above, dv
    horizontal = (abs_h.sum(), h * (w - 1), grid_h.sum(), h * len(range(7, _grid_end(w), 8)), cross_h, h * (w - 2))
    vertical = (abs_v.sum(), w * (h - 1), grid_v.sum(), w * len(range(7, _grid_end(h), 8)), cross_v, w * (h - 2))
    return horizontal, vertical
