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
The image passes are numba loops (``_sisblim_noise``, ``_sisblim_ar``, ``_sisblim_jpeg``) that
give the numpy formulation's values: the noise sigma and the denoised image bit for bit.
"""
from __future__ import annotations

import numpy as np

from ._common import rgb2gray
from ._sisblim_ar import neighbour_moments, residual_sum_squares
from ._sisblim_jpeg import jpeg_sums
from ._sisblim_noise import adaptive_wiener, patch_covariance, patch_variances

VERSION = "2"
HIGHER_IS_BETTER = True
NAMES = ("noise_sigma", "noise_extent", "noise_energy", "q_noise", "free_energy", "jpeg_blockiness", "jpeg_activity",
         "jpeg_zero_crossing", "jpeg_score", "score")
QUANT_VAR = 1 / 12  # variance of uint8 rounding noise: the floor of any noise estimate
# Wang-Sheikh-Bovik NR JPEG metric constants, as in the authors' jpeg_quality_score.m.
_JPEG_ALPHA, _JPEG_BETA = -245.8909, 261.9373
_JPEG_GAMMA = np.array([-239.8886, 160.1664, 64.2859]) / 10000
_TINY = 1e-12


def noise_sigma(gray: np.ndarray) -> float:
    """Noise std from the smallest eigenvalue of the 5x5 patch covariance (stride 2),
    using the lower-variance half of the patches so that texture leaks in less."""
    var = patch_variances(gray)
    cov = patch_covariance(gray, var <= np.median(var))
    return float(np.sqrt(max(np.linalg.eigvalsh(cov)[0], QUANT_VAR)))


def denoise(gray: np.ndarray, sigma: float) -> tuple[np.ndarray, float, float]:
    """Local 5x5 adaptive Wiener filter; returns (denoised image, extent, energy), the noise
    shares measured on its local variances v with n = sigma^2 - 1/12 (see the module
    docstring): extent = 1 - mean(min(v, n) / (v + 1/12)), the clean share of the image,
    and energy = sum(max(v - sigma^2, 0)) / sum(v), the signal share of its local energy
    (1 if v is 0 everywhere). Both in [0, 1], 1 = no noise above quantisation."""
    excess = max(sigma**2 - QUANT_VAR, 0.0)
    den, clean, signal, total = adaptive_wiener(gray, sigma**2, excess, QUANT_VAR, _TINY)
    return den, 1 - clean / gray.size, signal / (total + _TINY) if total > 0 else 1.0


def free_energy(gray: np.ndarray, sigma: float) -> float:
    """Gaussian entropy (bits) of the 8-neighbour AR residual, excess noise removed.
    gray holds integer grey levels (rgb2gray rounds): the normal equations are exact sums."""
    products, sums = neighbour_moments(gray)
    gram, rhs = products[:8, :8].astype(float), products[:8, 8].astype(float)
    a, *_ = np.linalg.lstsq(gram, rhs, rcond=None)  # least squares through the 8x8 normal equations
    n = (gray.shape[0] - 2) * (gray.shape[1] - 2)
    mean = (sums[8] - a @ sums[:8]) / n  # of the residual centre - a . neighbours
    innovation = residual_sum_squares(gray, a, mean) / n - (sigma**2 - QUANT_VAR) * (1 + a @ a)
    return float(0.5 * np.log2(2 * np.pi * np.e * max(innovation, QUANT_VAR)))


def _jpeg_direction(abs_sum, abs_count, grid_sum, grid_count, crossings, pairs) -> tuple[float, float, float]:
    """Blockiness B, activity A and zero-crossing rate Z (Wang et al. 2002) of one
    direction's differences, from the sums and counts of ``jpeg_sums``."""
    b = grid_sum / grid_count  # mean |difference| across the 8x8 grid
    a = (8 * (abs_sum / abs_count) - b) / 7
    return b, a, crossings / pairs


def jpeg_quality(gray: np.ndarray) -> tuple[float, float, float, float]:
    """(B, A, Z, S): Wang-Sheikh-Bovik features and score (about 1..10, higher = better)."""
    horizontal, vertical = jpeg_sums(gray)
    b, a, z = np.mean([_jpeg_direction(*horizontal), _jpeg_direction(*vertical)], axis=0)
    s = _JPEG_ALPHA + _JPEG_BETA * np.prod(np.maximum([b, a, z], _TINY) ** _JPEG_GAMMA)
    return float(b), float(a), float(z), float(s)


def extract(image: np.ndarray) -> np.ndarray:
    gray = rgb2gray(image)
    sigma = noise_sigma(gray)
    den, extent, energy = denoise(gray, sigma)
    q_noise = extent * energy
    fe = free_energy(gray, sigma)
    b, a, z, s = jpeg_quality(den)
    q_jpeg = float(np.clip(s, 1, 10) / 10)
    return np.array([sigma, extent, energy, q_noise, fe, b, a, z, s, q_noise * fe * q_jpeg])


def score(image: np.ndarray) -> float:
    """Fused training-free score (higher = better); see the module docstring."""
    return float(extract(image)[-1])
