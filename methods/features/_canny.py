"""``skimage.feature.canny(image)`` with its default parameters, compiled with numba.

For a float64 image the steps are skimage's (0.26), with the same float operations in the
same order, so the edges are the same (tests/test_features.py and tests/test_feature_kernels.py
compare them):

* Gaussian smoothing, sigma 1, zero padding, divided by the smoothed all-ones image (skimage's
  ``_preprocess`` undoes the darkening of the zero border that way);
* ``ndimage.sobel`` along both axes (reflect padding), magnitude ``sqrt(i*i + j*j)``;
* skimage's ``_nonmaximum_suppression_bilinear`` (the Cython routine; its four cases as selections),
  border pixels excluded, low threshold 0.1 (a C ``float`` there: ``float32(0.1)``);
* hysteresis: the pixels that survive it, 8-connected to one whose magnitude is >= 0.2.
  skimage labels the components (``ndimage.label``) and keeps those holding a strong pixel;
  searching from the weak pixels for a strong neighbour keeps the same ones.

The thresholds are absolute (skimage's defaults for a float image), so on a 0..255 image
almost every non-suppressed pixel is an edge.
"""
from __future__ import annotations

import numpy as np

from ._filters import correlate_symmetric_separable, gaussian_weights
from ._jit import compiled

SIGMA = 1.0
LOW = float(np.float32(0.1))  # skimage passes its low threshold as a C float
HIGH = 0.2
_WEAK, _STRONG, _SEEN = np.uint8(1), np.uint8(2), np.uint8(3)


def canny_edges(gray: np.ndarray) -> np.ndarray:
    """Edge map of ``skimage.feature.canny(gray)`` (default parameters) for a 2-D float64 image."""
    gray = np.asarray(gray, dtype=np.float64)
    w = gaussian_weights(SIGMA)
    blurred = correlate_symmetric_separable(gray, w, "constant")
    # The large arrays come from numpy, which asks for huge pages: arrays that numba allocates
    # fault in 4 kB pages, which costs more than filling them.
    smoothed = np.empty((gray.shape[0] + 2, gray.shape[1] + 2))
    _divide_by_bleed_over(blurred, _bleed_over_rows(gray.shape, w), len(w) // 2, smoothed)
    marks = _nonmaximum_suppression(smoothed, LOW, HIGH, np.zeros(gray.shape, dtype=np.uint8))
    return _hysteresis(marks, np.zeros(gray.shape, dtype=bool), np.empty(gray.size, dtype=np.int64))


def _bleed_over_rows(shape: tuple[int, int], w: np.ndarray) -> np.ndarray:
    """skimage's ``gaussian(ones) + eps`` on 2r + 1 rows (r the radius of w): every row at least
    r from the top and bottom borders equals the middle one (same inputs, same operations),
    the r rows above and below it are the image's first and last r rows."""
    r = len(w) // 2
    ones = np.ones((min(shape[0], 2 * r + 1), shape[1]))
    return correlate_symmetric_separable(ones, w, "constant") + np.finfo(np.float64).eps


@compiled
def _divide_by_bleed_over(blurred, bleed, r, out):
    """``blurred / bleed_over`` into ``out``, padded there by one pixel (reflect) for the Sobels;
    ``bleed`` holds bleed_over's distinct rows (``_bleed_over_rows``)."""
    rows, short = blurred.shape[0], bleed.shape[0]
    for i in range(rows):
        if rows == short or i < r:
            b = bleed[i]
        elif i >= rows - r:
            b = bleed[short - (rows - i)]
        else:
            b = bleed[r]
        row, padded = blurred[i], out[i + 1]
        for j in range(len(row)):
            padded[j + 1] = row[j] / b[j]
        padded[0], padded[-1] = padded[1], padded[-2]
    for j in range(out.shape[1]):  # element by element: a row assignment compiles seconds of error handling
        out[0, j], out[-1, j] = out[1, j], out[-2, j]


@compiled
def _nonmaximum_suppression(smoothed, low, high, out):
    """skimage's ``_nonmaximum_suppression_bilinear`` (interior pixels, threshold ``low``) on the
    Sobel gradients of the smoothed image (padded by one pixel), its survivors marked _WEAK, or
    _STRONG where the magnitude is >= ``high``. The gradients are made row by row, three rows
    kept: row x is suppressed against rows x - 1 and x + 1."""
    rows, cols = out.shape
    gradients = np.empty((3, 3, cols))  # slot k % 3: isobel, jsobel, magnitude of row k
    scratch = np.empty((4, cols + 2))
    _sobel_row(smoothed, 0, gradients[0], scratch)
    if rows > 1:
        _sobel_row(smoothed, 1, gradients[1], scratch)
    for x in range(1, rows - 1):
        _sobel_row(smoothed, x + 1, gradients[(x + 1) % 3], scratch)
        _suppress_row(gradients[(x - 1) % 3, 2], gradients[x % 3], gradients[(x + 1) % 3, 2], low, high, out[x])
    return out


@compiled
def _sobel_row(p, i, out, scratch):
    """Row i of ``ndimage.sobel`` along axes 0 and 1 and of the gradient magnitude
    ``sqrt(i*i + j*j)``, into out[0], out[1], out[2], from the image padded by one pixel
    (reflect). Each Sobel is ndimage's two 1-D passes: the difference
    ``x * 0 + (before - after) * -1``, then the smoothing ``x * 2 + (before + after) * 1``."""
    cols = out.shape[1]
    above, here, below = p[i], p[i + 1], p[i + 2]
    di, dj_up, dj, dj_down = scratch[0], scratch[1], scratch[2], scratch[3]
    for m in range(cols + 2):  # axis-0 difference, over the padded columns
        di[m] = here[m] * 0.0 + (above[m] - below[m]) * -1.0
    _column_difference(above, dj_up)
    _column_difference(here, dj)
    _column_difference(below, dj_down)
    gi, gj, mag = out[0], out[1], out[2]
    # one output per loop: LLVM vectorises a loop only if it can check its few pointers' overlap
    for m in range(cols):
        gi[m] = di[m + 1] * 2.0 + (di[m] + di[m + 2]) * 1.0
    for m in range(cols):
        gj[m] = dj[m] * 2.0 + (dj_up[m] + dj_down[m]) * 1.0
    for m in range(cols):
        mag[m] = np.sqrt(gi[m] * gi[m] + gj[m] * gj[m])


@compiled
def _column_difference(padded_row, out):
    """Axis-1 difference of ndimage's Sobel along axis 1, over one padded row (out: cols + 2)."""
    for m in range(len(padded_row) - 2):
        out[m] = padded_row[m + 1] * 0.0 + (padded_row[m] - padded_row[m + 2]) * -1.0


@compiled
def _suppress_row(up, centre, down, low, high, marks):
    """One row of the suppression: ``centre`` holds the row's isobel, jsobel and magnitude,
    ``up`` and ``down`` the magnitudes of the rows above and below.

    skimage's four cases, written as selections so that the pixel loop vectorises: the
    gradient points into the quadrant where both components have the same sign or into the
    other one, and is steep (|i| > |j| in the first quadrant, |i| >= |j| in the second) or
    not. It interpolates with w = min(|i|, |j|) / max(|i|, |j|), skimage's division in each
    case, between the neighbours along the gradient on each side."""
    n = len(marks) - 2
    gi, gj, m, here = centre[0][1:n + 1], centre[1][1:n + 1], centre[2][1:n + 1], centre[2]
    for y in range(n):  # index y of the slices is column y + 1 of the image
        # every neighbour loaded, then selected: LLVM vectorises selections, not branchy loads
        u0, u1, u2, h0, h2 = up[y], up[y + 1], up[y + 2], here[y], here[y + 2]
        d0, d1, d2 = down[y], down[y + 1], down[y + 2]
        abs_i, abs_j = abs(gi[y]), abs(gj[y])
        w = min(abs_i, abs_j) / max(abs_i, abs_j)  # 0 / 0 (a zero gradient, below ``low``) is NaN
        same = (gi[y] <= 0) == (gj[y] <= 0)
        steep = abs_i > abs_j if same else abs_i >= abs_j
        before_1 = (d1 if same else u1) if steep else h2
        before_2 = d2 if same else u2
        after_1 = (u1 if same else d1) if steep else h0
        after_2 = u0 if same else d0
        keep = ((m[y] >= low) & (before_2 * w + before_1 * (1.0 - w) <= m[y])
                & (after_2 * w + after_1 * (1.0 - w) <= m[y]))
        marks[y + 1] = (_STRONG if m[y] >= high else _WEAK) if keep else 0


@compiled
def _hysteresis(marks, edges, stack):
    """The _STRONG pixels and the _WEAK ones 8-connected to one through _WEAK pixels (the
    components of all marked pixels that hold a strong one). Nearly all survivors of the
    suppression are strong on a 0..255 image, so only the few weak components are searched.
    Marks are 0 on the border, so every neighbour of a marked pixel lies inside the image;
    ``marks`` is used up (searched pixels are set to _SEEN)."""
    cols = marks.shape[1]
    mark, kept = marks.ravel(), edges.ravel()
    neighbours = np.array([-cols - 1, -cols, -cols + 1, -1, 1, cols - 1, cols, cols + 1])
    for k in range(len(mark)):
        kept[k] = mark[k] == _STRONG
    for start in range(len(mark)):
        if mark[start] != _WEAK:
            continue
        mark[start] = _SEEN
        stack[0], size, head, touches_strong = start, 1, 0, False
        while head < size:  # the weak component of ``start``, gathered in stack[:size]
            here = stack[head]
            head += 1
            for step in neighbours:
                there = here + step
                if mark[there] == _STRONG:
                    touches_strong = True
                elif mark[there] == _WEAK:
                    mark[there] = _SEEN
                    stack[size] = there
                    size += 1
        if touches_strong:
            for k in range(size):
                kept[stack[k]] = True
    return edges
