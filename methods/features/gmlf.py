"""GMLF: joint statistics of gradient magnitude (GM) and Laplacian of Gaussian (LoG).

W. Xue, X. Mou, L. Zhang, A. C. Bovik, X. Feng, "Blind image quality assessment using joint
statistics of gradient magnitude and Laplacian features", IEEE TIP 23(11), 2014 (the "M3"
feature set, 40-d). Follows the authors' release ``Grad_LOG_CP_TIP.m`` step by step:

* grey image 0..255 (MATLAB ``rgb2gray``); Gaussian partial-derivative filters and a LoG
  filter, sigma = 0.5, each normalised to unit L1 norm, zero-padded ``filter2``;
* GM is divided by 2.5 (average GM/LoG ratio on LIVE) before the joint adaptive
  normalisation ``N = sqrt(G_{sigma=1} * mean(GM^2, LoG^2)) + 0.2``;
* a 2-pixel border is dropped, both maps are quantised with step 0.2 into M = N = 10 bins
  (values beyond the last bin go into it), giving the joint histogram K(m, n);
* features = marginal P_G (10), marginal P_L (10), and the two "independency distributions"
  Q_G(m) ~ sum_n K(m, n) / (P_L(n) + 1e-4), Q_L(n) ~ sum_m K(m, n) / (P_G(m) + 1e-4).

No deviation from the release is known, apart from float rounding. The steps run compiled, in
one pass down the rows (``_joint_counts``), with the float operations of the whole-map
formulation in the same order: the histogram is the one ``ndimage.correlate``, ``np.hypot``
and ``np.bincount`` give, bit for bit (tests/test_compiled_features.py).
"""
from __future__ import annotations

import numpy as np

from ._common import fspecial_gaussian, fspecial_log, gaussian_taps, hypot_row, rgb2gray
from ._filters import correlate_line, correlate_row, footprint, kernel_symmetry, pad_for
from ._jit import compiled

VERSION = "1"
SIGMA = 0.5          # scale of the derivative and LoG filters
GM_LOG_RATIO = 2.5   # GM is scaled down by this before joint normalisation
C0 = 0.2             # stabilising constant of the normalisation map
STEP, BINS = 0.2, 10
ALPHA = 1e-4         # regulariser of the conditional probabilities

NAMES = tuple(f"{kind}_{i}" for kind in ("p_gm", "p_log", "q_gm", "q_log") for i in range(1, BINS + 1))


def _kernels(sigma: float):
    g = fspecial_gaussian(2 * int(np.ceil(3 * sigma)) + 3, sigma)
    kx = g[1:-1, 1:-1] - g[1:-1, 2:]   # forward difference of the Gaussian = d/dx filter
    ky = g[1:-1, 1:-1] - g[2:, 1:-1]
    klog = fspecial_log(2 * int(np.ceil(3 * sigma)) + 1, sigma)
    return kx / np.abs(kx).sum(), ky / np.abs(ky).sum(), klog / np.abs(klog).sum()


_KX, _KY, _KLOG = _kernels(SIGMA)
_FOOTPRINTS = tuple(footprint(k) for k in (_KX, _KY, _KLOG))
assert _KX.shape == _KY.shape == _KLOG.shape  # one zero-padded image serves all three
_PAD = _KX.shape[0] // 2
_NORM_SIZE = 2 * int(np.ceil(3 * 2 * SIGMA)) + 1  # window of the normalisation, sigma_N = 2 sigma
_NORM_TAPS = gaussian_taps(_NORM_SIZE, 2 * SIGMA)  # the normalisation's Gaussian, applied separably
_NORM_SYMMETRY = kernel_symmetry(_NORM_TAPS)


@compiled
def _bin(v):
    """Quantisation with step STEP into bins 0 .. BINS - 1 (values beyond the last bin go into it)."""
    q = np.ceil(v / STEP)
    if q != q:  # NaN: no bin (it would index outside the counts); the array code failed too
        raise ValueError("GMLF: a NaN response (non-finite image?)")
    return int(min(max(q, 1.0), float(BINS))) - 1


@compiled
def _joint_counts(p, fx, fy, flog, taps, symmetry, border, counts):
    """K(m, n), flat (index m * BINS + n), of the grey image zero-padded by _PAD (p), the same
    operations as the whole-map steps of the release, in one pass down the rows, so that no
    full-size map is written. At row i: the three ``filter2`` responses (``correlate_row``),
    GM = hypot(Gx, Gy) / GM_LOG_RATIO, |LoG| and the energy (GM^2 + LoG^2) / 2 of row i go to
    ring buffers; then row o = i - r, whose 2r + 1 energy rows are now in (zero rows beyond the
    image, as the constant border), is smoothed by the Gaussian window separably (down the
    columns, then along the row: ndimage's ``correlate1d`` lines, ``correlate_line``), and its quantised
    (GM / N, |LoG| / N) pairs, N = sqrt(smoothed) + C0, are counted unless in the border."""
    rows, cols = p.shape[0] - 2 * _PAD, p.shape[1] - 2 * _PAD
    r = len(taps) // 2
    span = 2 * r + 1
    gx, gy, response = np.empty(cols), np.empty(cols), np.empty(cols)
    gm, log = np.empty((span, cols)), np.empty((span, cols))  # row q at q % span
    energy = np.zeros((2 * span, cols))  # row q at q % span and q % span + span: any span rows in order
    down = np.zeros(cols + 2 * r)  # the column-smoothed row, zero-padded along the row
    smoothed, pair = np.empty(cols), np.empty(cols, dtype=np.int64)
    for i in range(rows + r):
        slot = i % span
        if i < rows:
            correlate_row(p, i, *fx, gx)
            correlate_row(p, i, *fy, gy)
            correlate_row(p, i, *flog, response)
            g, lg = gm[slot], log[slot]
            hypot_row(gx, gy, g)
            for j in range(cols):
                g[j] /= GM_LOG_RATIO
                lg[j] = abs(response[j])
                energy[slot, j] = energy[slot + span, j] = (g[j] * g[j] + lg[j] * lg[j]) / 2
        else:
            energy[slot] = energy[slot + span] = 0.0
        o = i - r
        if o < border or o >= rows - border:
            continue
        correlate_line(energy.ravel(), (o - r) % span * cols, cols, cols, taps, r, symmetry, down[r: r + cols])
        correlate_line(down, 0, 1, cols, taps, r, symmetry, smoothed)
        g, lg = gm[o % span], log[o % span]
        for j in range(border, cols - border):
            norm = np.sqrt(smoothed[j]) + C0
            pair[j] = _bin(g[j] / norm) * BINS + _bin(lg[j] / norm)
        for j in range(border, cols - border):
            counts[pair[j]] += 1
    return counts


def extract(image: np.ndarray) -> np.ndarray:
    p = pad_for(rgb2gray(image), _KX.shape, "constant")
    b = int(np.ceil(3 * 2 * SIGMA)) - 1  # MATLAB keeps rows h..end-h+1 with h = 3
    counts = _joint_counts(p, *_FOOTPRINTS, _NORM_TAPS, _NORM_SYMMETRY, b, np.zeros(BINS * BINS, dtype=np.int64))
    joint = counts.reshape(BINS, BINS) / counts.sum()
    p_gm, p_log = joint.sum(axis=1), joint.sum(axis=0)
    q_gm = (joint / (p_log[None, :] + ALPHA)).sum(axis=1)
    q_log = (joint / (p_gm[:, None] + ALPHA)).sum(axis=0)
    return np.concatenate([p_gm, p_log, q_gm / q_gm.sum(), q_log / q_log.sum()])
