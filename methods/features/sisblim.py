"""SISBLIM-style hybrid no-reference metric for singly and multiply distorted images.

K. Gu, G. Zhai, X. Yang, W. Zhang, "Hybrid no-reference quality metric for singly and
multiply distorted images", IEEE Trans. Broadcasting 60(3), 2014 ("six-step blind metric").
The paper's pipeline: (1) estimate the noise level, (2) denoise, (3) measure blur with
free-energy / sharpness cues, (4) measure JPEG blockiness, (5) estimate the joint effect of
the distortions, (6) fuse into one score. The official code is a MATLAB p-code release whose
components, constants and fusion weights are not all given in the paper, so this module is
an APPROXIMATION that keeps the six-step structure with training-free stand-ins:

1. noise sigma: PCA noise estimation (after Pyatykh et al., IEEE TIP 2013), the smallest
   eigenvalue of the covariance of 5x5 patches from the lower-variance half of the patches,
   floored at the uint8 quantisation noise (variance 1/12);
2. denoising: local 5x5 adaptive Wiener filter with that sigma (stands in for BM3D); the
   noise-quality factor q_noise is the product of two shares measured on the 5x5 local
   variances v, with n = sigma^2 - 1/12 the noise variance above quantisation:
   extent  1 - mean(min(v, n) / (v + 1/12)), the share of the image where noise does not
           dominate (flat, clean regions count as clean: n = 0 there adds nothing), and
   energy  sum(max(v - sigma^2, 0)) / sum(v), the share of local energy that is signal.
   The extent saturates once noise dominates everywhere; the energy share keeps falling,
   but alone it barely moves on textured images. (Version 1 used the mean Wiener gain,
   which rates flat, clean regions as all noise: on flat synthetic content it rose with noise);
3. blur: free energy as in Zhai et al. (IEEE TIP 2012), the entropy of the residual of a
   linear autoregressive predictor (8 neighbours; one least-squares fit per image instead of
   per-pixel local fits), in bits, in its Gaussian form 0.5 log2(2 pi e var). The residual
   variance of a noisy image splits exactly into signal innovation + sigma^2 (1 + sum a_i^2)
   for predictor weights a, so the excess noise over quantisation is subtracted before the
   entropy is taken ("signal free energy"; this replaces measuring on the denoised image).
   Sharper -> higher;
4. JPEG: Wang, Sheikh & Bovik (ICIP 2002) blockiness B / activity A / zero-crossing Z score S
   with the published constants, on the denoised image (S ~ 1..10, 10 = best);
   q_jpeg = clip(S, 1, 10) / 10;
5./6. joint effect and fusion: the paper's fusion is not reproduced. We use the parameter-free
   product  score = q_noise * free_energy * q_jpeg  (higher = better): each distortion lowers
   its own factor. This fusion is ours, not the paper's.

Known limits: sharpness and noise are confounded, as in any NR measure (a mild blur or JPEG
that removes real sensor noise can raise the score), and strong clipping at 0/255 makes the
noise estimate too low, so noise on near-saturated content may not lower the score.
``extract()`` returns the components (a regressor can learn its own fusion) and the score.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ._common import one_blas_thread, rgb2gray

VERSION = "2"
HIGHER_IS_BETTER = True
NAMES = ("noise_sigma", "noise_extent", "noise_energy", "q_noise", "free_energy", "jpeg_blockiness", "jpeg_activity",
         "jpeg_zero_crossing", "jpeg_score", "score")
PATCH = 5
WIENER_SIZE = 5
QUANT_VAR = 1 / 12  # variance of uint8 rounding noise: the floor of any noise estimate
# Wang-Sheikh-Bovik NR JPEG metric constants, as in the authors' jpeg_quality_score.m.
_JPEG_ALPHA, _JPEG_BETA = -245.8909, 261.9373
_JPEG_GAMMA = np.array([-239.8886, 160.1664, 64.2859]) / 10000
_TINY = 1e-12


def noise_sigma(gray: np.ndarray) -> float:
    """Noise std from the smallest eigenvalue of the 5x5 patch covariance (stride 2),
    using the lower-variance half of the patches so that texture leaks in less."""
    p = np.lib.stride_tricks.sliding_window_view(gray, (PATCH, PATCH))[::2, ::2]
    p = p.reshape(-1, PATCH * PATCH)
    var = p.var(axis=1)
    lam = np.linalg.eigvalsh(_cov(p[var <= np.median(var)]))[0]
    return float(np.sqrt(max(lam, QUANT_VAR)))


def _cov(x: np.ndarray) -> np.ndarray:
    """Sample covariance of the rows of x, via einsum. Not BLAS: its other summation order
    moves sigma by ~1e-11, enough to flip the signs of near-zero differences in flat areas
    of the denoised image and move the JPEG zero-crossing rate by 5e-4 on a JPEG image."""
    x = x - x.mean(axis=0)
    return np.einsum("ni,nj->ij", x, x) / (len(x) - 1)


def wiener(gray: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Local adaptive Wiener filter; returns (denoised image, local variance)."""
    mu = ndimage.uniform_filter(gray, WIENER_SIZE, mode="reflect")
    var = np.maximum(ndimage.uniform_filter(gray * gray, WIENER_SIZE, mode="reflect") - mu * mu, 0)
    gain = np.clip((var - sigma**2) / (var + _TINY), 0, 1)
    return mu + gain * (gray - mu), var


def noise_shares(var: np.ndarray, sigma: float) -> tuple[float, float]:
    """(extent, energy): the clean share of the image and the signal share of its local
    energy, both in [0, 1], 1 = no noise above quantisation (see the module docstring)."""
    excess = max(sigma**2 - QUANT_VAR, 0.0)
    extent = 1 - float(np.mean(np.minimum(var, excess) / (var + QUANT_VAR)))
    energy = float(np.maximum(var - sigma**2, 0).sum() / (var.sum() + _TINY)) if var.any() else 1.0
    return extent, energy


def free_energy(gray: np.ndarray, sigma: float) -> float:
    """Gaussian entropy (bits) of the 8-neighbour AR residual, excess noise removed."""
    h, w = gray.shape
    center = gray[1:-1, 1:-1].ravel()
    neigh = np.empty((8, h - 2, w - 2))  # one row per neighbour, filled in place
    for k, (dy, dx) in enumerate((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx):
        neigh[k] = gray[1 + dy: h - 1 + dy, 1 + dx: w - 1 + dx]
    neigh = neigh.reshape(8, -1)
    with one_blas_thread():  # least squares through the 8x8 normal equations
        gram, rhs = neigh @ neigh.T, neigh @ center
        a, *_ = np.linalg.lstsq(gram, rhs, rcond=None)
        residual = center - a @ neigh
    innovation = np.var(residual) - (sigma**2 - QUANT_VAR) * (1 + a @ a)
    return float(0.5 * np.log2(2 * np.pi * np.e * max(innovation, QUANT_VAR)))


def _jpeg_direction(x: np.ndarray) -> tuple[float, float, float]:
    """Horizontal blockiness B, activity A and zero-crossing rate Z (Wang et al. 2002)."""
    d = np.diff(x, axis=1)
    nb = max(x.shape[1] // 8 - 1, 1)
    b = np.mean(np.abs(d[:, 7: 8 * nb: 8]))       # differences across the 8x8 grid
    a = (8 * np.mean(np.abs(d)) - b) / 7
    z = np.mean(d[:, :-1] * d[:, 1:] < 0)
    return b, a, z


def jpeg_quality(gray: np.ndarray) -> tuple[float, float, float, float]:
    """(B, A, Z, S): Wang-Sheikh-Bovik features and score (about 1..10, higher = better)."""
    b, a, z = np.mean([_jpeg_direction(gray), _jpeg_direction(gray.T)], axis=0)
    s = _JPEG_ALPHA + _JPEG_BETA * np.prod(np.maximum([b, a, z], _TINY) ** _JPEG_GAMMA)
    return float(b), float(a), float(z), float(s)


def extract(image: np.ndarray) -> np.ndarray:
    gray = rgb2gray(image)
    sigma = noise_sigma(gray)
    den, var = wiener(gray, sigma)
    extent, energy = noise_shares(var, sigma)
    q_noise = extent * energy
    fe = free_energy(gray, sigma)
    b, a, z, s = jpeg_quality(den)
    q_jpeg = float(np.clip(s, 1, 10) / 10)
    return np.array([sigma, extent, energy, q_noise, fe, b, a, z, s, q_noise * fe * q_jpeg])


def score(image: np.ndarray) -> float:
    """Fused training-free score (higher = better); see the module docstring."""
    return float(extract(image)[-1])
