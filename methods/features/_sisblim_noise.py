"""SISBLIM steps 1-2 compiled with numba: the patch statistics of the noise estimate and the
Wiener filter with the noise shares, each in one or two passes instead of numpy's many.

They give the numpy formulation's noise sigma and denoised image bit for bit, because the
denoised image decides the signs of near-zero differences (the JPEG zero-crossing rate) and
a sigma moved by 1e-11 flips some. So the loops repeat numpy's and SciPy's float operations
in the same order: the patch variances (numpy's pairwise sum of 25 values), the covariance
(einsum's sums over the patches in order) and the 5x5 box filter (ndimage's running sum).
The sums over the image of the noise shares are taken per column, then over the columns
(relative change ~1e-13 against numpy's pairwise sums).
"""
from __future__ import annotations

import numpy as np

from ._jit import compiled

PATCH, PATCH_STEP = 5, 2  # noise patches: 5x5 at stride 2
BOX = 5  # Wiener window
_PADDED = 32  # a flattened patch (25 values) padded to whole 8-lane vectors
_LOWER = 4 * _PADDED  # where the covariance sums start in patch_covariance's buffer


@compiled
def _pairwise_sum25(x):
    """numpy's pairwise sum of 25 contiguous values: 8 running sums, a tree, then the rest."""
    r0, r1, r2, r3, r4, r5, r6, r7 = x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]
    for i in range(8, 24, 8):
        r0 += x[i]
        r1 += x[i + 1]
        r2 += x[i + 2]
        r3 += x[i + 3]
        r4 += x[i + 4]
        r5 += x[i + 5]
        r6 += x[i + 6]
        r7 += x[i + 7]
    return ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)) + x[24]


@compiled
def _load_patch(gray, i, j, out):
    """Patch (i, j) of the stride-2 grid, flattened row by row into out[:25]."""
    rows = gray[PATCH_STEP * i: PATCH_STEP * i + PATCH]
    for a in range(PATCH):
        for b in range(PATCH):
            out[PATCH * a + b] = rows[a, PATCH_STEP * j + b]


@compiled
def patch_variances(gray):
    """Variance of each 5x5 patch at stride 2, as numpy's ``var(axis=1)`` of the flattened
    patches: pairwise sum / 25 for the mean, pairwise sum of squared deviations / 25."""
    rows, cols = (gray.shape[0] - PATCH) // PATCH_STEP + 1, (gray.shape[1] - PATCH) // PATCH_STEP + 1
    out = np.empty((rows, cols))
    x, squares = np.empty(PATCH * PATCH), np.empty(PATCH * PATCH)
    for i in range(rows):
        for j in range(cols):
            _load_patch(gray, i, j, x)
            mean = _pairwise_sum25(x) / 25
            for k in range(PATCH * PATCH):
                squares[k] = (x[k] - mean) * (x[k] - mean)
            out[i, j] = _pairwise_sum25(squares) / 25
    return out


@compiled
def patch_covariance(gray, selected):
    """Sample covariance of the flattened patches where ``selected`` (over the patch grid),
    as numpy's ``x -= x.mean(axis=0); einsum("ni,nj->ij", x, x) / (len(x) - 1)``: each
    entry summed over the patches in row-major order."""
    n = PATCH * PATCH
    mean, x, count = np.zeros(n), np.empty(n), 0
    for i in range(selected.shape[0]):
        for j in range(selected.shape[1]):
            if selected[i, j]:
                _load_patch(gray, i, j, x)
                for k in range(n):
                    mean[k] += x[k]
                count += 1
    for k in range(n):
        mean[k] /= count
    # One buffer: four centred patches, then the lower triangle of the sums. As one array
    # LLVM sees that they do not overlap and vectorises the update without run-time
    # overlap checks (twice as fast as separate arrays).
    work = np.zeros(_LOWER + n * _PADDED)
    filled = 0
    for i in range(selected.shape[0]):
        for j in range(selected.shape[1]):
            if selected[i, j]:
                patch = work[filled * _PADDED: filled * _PADDED + n]
                _load_patch(gray, i, j, patch)
                for k in range(n):
                    patch[k] -= mean[k]
                filled += 1
                if filled == 4:
                    _add_products4(work)
                    filled = 0
    for p in range(filled):
        _add_products(work, p * _PADDED)
    cov = np.empty((n, n))
    for k in range(n):
        for m in range(k + 1):  # x[k] x[m] == x[m] x[k]: einsum's two sums are equal
            cov[k, m] = cov[m, k] = work[_LOWER + k * _PADDED + m] / (count - 1)
    return cov


@compiled
def _row_width(k):
    """Entries 0..k of row k of the lower triangle, rounded up to whole 8-lane vectors."""
    return (k // 8 + 1) * 8


@compiled
def _add_products4(work):
    """Lower triangle += x[k] x[m] for the four patches x at the start of work, in turn
    (one load and store of each sum for four patches)."""
    for k in range(PATCH * PATCH):
        row = _LOWER + k * _PADDED
        a0, a1, a2, a3 = work[k], work[_PADDED + k], work[2 * _PADDED + k], work[3 * _PADDED + k]
        for m in range(_row_width(k)):
            work[row + m] = ((((work[row + m] + a0 * work[m]) + a1 * work[_PADDED + m])
                              + a2 * work[2 * _PADDED + m]) + a3 * work[3 * _PADDED + m])


@compiled
def _add_products(work, x):
    """Lower triangle += x[k] x[m] for the patch at offset x of work."""
    for k in range(PATCH * PATCH):
        row, a = _LOWER + k * _PADDED, work[x + k]
        for m in range(_row_width(k)):
            work[row + m] += a * work[x + m]


@compiled
def _reflect(t, n):
    """ndimage's 'reflect' border (d c b a | a b c d) for t in [-n, 2n)."""
    if t < 0:
        return -t - 1
    if t >= n:
        return 2 * n - t - 1
    return t


@compiled
def _reflect_ends(padded):
    """Fill the 2 spare values at each end of padded by ndimage's 'reflect' border."""
    n = padded.shape[0] - 4
    padded[0], padded[1] = padded[3], padded[2]
    padded[n + 2], padded[n + 3] = padded[n + 1], padded[n]


@compiled
def _running_sums5(padded_a, padded_b, sums_a, sums_b):
    """The sums behind ``ndimage.uniform_filter1d(line, 5)`` of two padded lines at once
    (two independent chains): the first 5 values added in turn, then + entering - leaving;
    ndimage divides each by 5."""
    total_a = total_b = 0.0
    for t in range(BOX):
        total_a += padded_a[t]
        total_b += padded_b[t]
    sums_a[0], sums_b[0] = total_a, total_b
    for m in range(1, sums_a.shape[0]):
        total_a += padded_a[m + BOX - 1] - padded_a[m - 1]
        total_b += padded_b[m + BOX - 1] - padded_b[m - 1]
        sums_a[m], sums_b[m] = total_a, total_b


@compiled
def adaptive_wiener(gray, noise_var, excess, quant_var, tiny):
    """The 5x5 adaptive Wiener filter and the noise shares' sums over its local variances v:
    (denoised image, sum of min(v, excess) / (v + quant_var), sum of max(v - noise_var, 0),
    sum of v). As ``ndimage.uniform_filter(., 5, mode="reflect")`` of gray and gray^2, the
    box filters run down the columns first (as running sums, row by row), then along each
    row; no full-size temporaries."""
    h, w = gray.shape
    den = np.empty((h, w))
    col_sum, col_sum2 = np.zeros(w), np.zeros(w)
    col_mean, col_mean2 = np.empty(w + 4), np.empty(w + 4)  # 2 spare values each side
    box_sum, box_sum2 = np.empty(w), np.empty(w)
    clean, signal, total = np.zeros(w), np.zeros(w), np.zeros(w)  # per column, summed at the end
    for t in range(-(BOX // 2), BOX - BOX // 2):
        row = gray[_reflect(t, h)]
        for j in range(w):
            col_sum[j] += row[j]
            col_sum2[j] += row[j] * row[j]
    for i in range(h):
        if i > 0:
            enter, leave = gray[_reflect(i + BOX // 2, h)], gray[_reflect(i - BOX // 2 - 1, h)]
            for j in range(w):
                col_sum[j] += enter[j] - leave[j]
                col_sum2[j] += enter[j] * enter[j] - leave[j] * leave[j]
        for j in range(w):
            col_mean[j + 2] = col_sum[j] / BOX
            col_mean2[j + 2] = col_sum2[j] / BOX
        _reflect_ends(col_mean)
        _reflect_ends(col_mean2)
        _running_sums5(col_mean, col_mean2, box_sum, box_sum2)
        pixels, den_row = gray[i], den[i]
        for j in range(w):
            mu = box_sum[j] / BOX
            v = max(box_sum2[j] / BOX - mu * mu, 0.0)
            gain = min(max((v - noise_var) / (v + tiny), 0.0), 1.0)
            den_row[j] = mu + gain * (pixels[j] - mu)
            clean[j] += min(v, excess) / (v + quant_var)
            signal[j] += max(v - noise_var, 0.0)
            total[j] += v
    return den, clean.sum(), signal.sum(), total.sum()
