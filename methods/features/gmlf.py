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

No deviation from the release is known, apart from float rounding.
"""
from __future__ import annotations

import numpy as np

from ._common import filter2, fspecial_gaussian, fspecial_log, gaussian_filter2, rgb2gray

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
_NORM_SIZE = 2 * int(np.ceil(3 * 2 * SIGMA)) + 1  # window of the normalisation, sigma_N = 2 sigma


def gm_log_maps(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Jointly normalised GM and |LoG| maps of a 0..255 grey image, border removed."""
    gm = np.hypot(filter2(_KX, gray), filter2(_KY, gray)) / GM_LOG_RATIO
    log = np.abs(filter2(_KLOG, gray))
    norm = np.sqrt(gaussian_filter2((gm * gm + log * log) / 2, _NORM_SIZE, 2 * SIGMA)) + C0
    b = int(np.ceil(3 * 2 * SIGMA)) - 1  # MATLAB keeps rows h..end-h+1 with h = 3
    return gm[b:-b, b:-b] / norm[b:-b, b:-b], log[b:-b, b:-b] / norm[b:-b, b:-b]


def extract(image: np.ndarray) -> np.ndarray:
    gm, log = gm_log_maps(rgb2gray(image))
    qg = np.clip(np.ceil(gm / STEP), 1, BINS).astype(np.int64) - 1
    ql = np.clip(np.ceil(log / STEP), 1, BINS).astype(np.int64) - 1
    joint = np.bincount((qg * BINS + ql).ravel(), minlength=BINS * BINS).reshape(BINS, BINS)
    joint = joint / joint.sum()
    p_gm, p_log = joint.sum(axis=1), joint.sum(axis=0)
    q_gm = (joint / (p_log[None, :] + ALPHA)).sum(axis=1)
    q_log = (joint / (p_gm[:, None] + ALPHA)).sum(axis=0)
    return np.concatenate([p_gm, p_log, q_gm / q_gm.sum(), q_log / q_log.sum()])
