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

import numpy as np
from ._common import check_rgb, gaussian_filter2, ggd_fit, imresize_half, weighted_channels
from ._filters import sobel

VERSION = "2"  # 2: GGD fits about the sample mean, as DESIQUE's estimator
SCALES = 2
_SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))

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
    """MATLAB ``applycform(uint8 RGB, makecform('srgb2lab'))`` as float64 uint8 codes."""
    lin = _SRGB_TO_LINEAR[check_rgb(image)]
    x, y, z = (np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
               for t in (weighted_channels(lin, row) / wp for row, wp in zip(_RGB2XYZ_D50, _WHITE_D50)))
    lab = np.stack([116 * y - 16, 500 * (x - y), 200 * (y - z)], -1)
    return np.clip(np.floor(lab * [255 / 100, 1, 1] + [0, 128, 128] + 0.5), 0, 255)


def _nakagami(sigma: np.ndarray) -> list[float]:
    v = sigma.ravel() + np.finfo(float).eps
    m, s = v.mean(), v.std(ddof=1)
    return [float(m), float((m / s) ** 2) if s > 0 else 0.0]


def _rolled(a: np.ndarray, shift: tuple[int, int], out: np.ndarray) -> np.ndarray:
    """``np.roll(a, shift, axis=(0, 1))`` written into ``out`` (no new array)."""
    h, w = a.shape
    dy, dx = shift[0] % h, shift[1] % w
    out[dy:, dx:], out[dy:, :dx] = a[: h - dy, : w - dx], a[: h - dy, w - dx:]
    out[:dy, dx:], out[:dy, :dx] = a[h - dy:, : w - dx], a[h - dy:, w - dx:]
    return out


def _scale_features(im: np.ndarray) -> list[float]:
    """DESIQUE/BRISQUE-style ``spatial_feature`` of ``higrade_spatial.m`` (18 values).

    The derivative maps are built in two reused buffers (no np.roll copies): the values
    are those of the plain expressions in the comments."""
    mu = gaussian_filter2(im, 7, 7 / 6)
    sigma = np.sqrt(np.abs(gaussian_filter2(im * im, 7, 7 / 6) - mu * mu))
    mscn = (im - mu) / (sigma + 1)
    feats = _nakagami(sigma)
    lg = np.abs(mscn)  # lg = log(|mscn| + 0.1)
    lg += 0.1
    np.log(lg, out=lg)
    feats += ggd_fit(mscn)
    buf, tmp = np.empty_like(lg), np.empty_like(lg)
    for shift in _SHIFTS:  # lg - circshift(lg, shift)
        feats += ggd_fit(np.subtract(lg, _rolled(lg, shift, buf), out=buf))
    np.add(lg, _rolled(lg, _SHIFTS[2], buf), out=buf)  # lg + shift(1,1) - shift(0,1) - shift(1,0)
    buf -= _rolled(lg, _SHIFTS[0], tmp)
    buf -= _rolled(lg, _SHIFTS[1], tmp)
    feats += ggd_fit(buf)
    z = np.pad(lg, 1)  # filter2 with [0 1 0; -1 0 -1; 0 1 0] and [1 0 -1; 0 0 0; -1 0 1]
    d1 = z[:-2, 1:-1] + z[2:, 1:-1] - z[1:-1, :-2] - z[1:-1, 2:]
    feats += ggd_fit(d1)
    d2 = z[:-2, :-2] - z[:-2, 2:] - z[2:, :-2] + z[2:, 2:]
    feats += ggd_fit(d2)
    return feats


def _multiscale(im: np.ndarray) -> list[float]:
    feats = []
    for s in range(SCALES):
        if s:
            im = imresize_half(im)
        feats += _scale_features(im)
    return feats


def extract(image: np.ndarray) -> np.ndarray:
    lab = lab_uint8(image)
    feats = []
    for k in range(3):
        ch = lab[..., k]
        grad = np.hypot(sobel(ch, 0, mode="nearest"), sobel(ch, 1, mode="nearest"))
        feats += _multiscale(ch) + _multiscale(grad)
    return np.asarray(feats, dtype=np.float64)
