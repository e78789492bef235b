"""The numba kernels behind DSIQA (cpbd) and CEIQ equal the library code they replace, bit for bit.

Beside tests/test_feature_equivalence.py (11 images), these cover the shapes and inputs where
a port goes wrong: borders of every mode, the smallest images, non-contiguous arrays, Canny's
weak pixels (images in 0..1, where the absolute thresholds 0.1 and 0.2 fall inside the range).
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage import data
from skimage.feature import canny

from methods.features import ceiq, cpbd
from methods.features._canny import canny_edges
from methods.features._common import rgb2gray, ssim_map
from methods.features._filters import correlate2d, correlate_symmetric_separable, gaussian_weights

MODES = ["constant", "nearest", "reflect", "mirror", "wrap"]


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(8)
    x = rng.normal(120, 40, (37, 29))
    x[5:15, 3:20] = 200.0
    return x


@pytest.mark.parametrize("mode", MODES)
def test_correlate_symmetric_separable_equals_ndimage(image, mode):
    for sigma, truncate in ((1.0, 4.0), (1.5, 5 / 1.5), (7 / 6, 3.0)):
        expected = ndimage.gaussian_filter(image, sigma, mode=mode, truncate=truncate)
        assert np.array_equal(correlate_symmetric_separable(image, gaussian_weights(sigma, truncate), mode), expected)
    w = np.array([0.05, 0.2, 0.5, 0.2, 0.05]) / 1.0000001
    expected = ndimage.correlate1d(ndimage.correlate1d(image, w, 0, mode=mode), w, 1, mode=mode)
    assert np.array_equal(correlate_symmetric_separable(image, w, mode), expected)


def test_correlate_symmetric_separable_needs_a_symmetric_kernel(image):
    with pytest.raises(ValueError, match="symmetric"):
        correlate_symmetric_separable(image, [0.2, 0.5, 0.3])


@pytest.mark.parametrize("mode", MODES)
def test_convolve_is_correlate2d_with_the_flipped_kernel(image, mode):
    """How cpbd's Sobel reproduces ``ndimage.convolve``: ndimage flips the kernel and correlates."""
    sobel = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]]) / 8
    assert np.array_equal(correlate2d(image, sobel.T[::-1, ::-1], mode), ndimage.convolve(image, sobel.T, mode=mode))


def _canny_images():
    rng = np.random.default_rng(4)
    yield data.camera() / 255.0                                  # 0..1: weak and strong pixels mixed
    yield rgb2gray(data.coffee()) / 127.5
    yield rng.random((200, 230))
    yield ndimage.gaussian_filter(rng.random((120, 140)), 3) * 40
    yield np.round(rng.random((64, 64)) * 255)[::2, ::3]         # a strided view
    for shape in [(1, 1), (1, 5), (5, 1), (2, 9), (9, 2), (3, 3), (3, 17), (9, 9), (16, 16)]:
        yield np.round(rng.random(shape) * 255, 2)


@pytest.mark.parametrize("gray", list(_canny_images()), ids=lambda g: "x".join(map(str, g.shape)))
def test_canny_edges_equal_skimage(gray):
    assert np.array_equal(canny_edges(gray), canny(gray))


def _numpy_ssim_map(a, b):
    """The SSIM map as numpy formulas over ndimage blurs (the code the kernel replaced)."""
    def blur(z):
        return ndimage.gaussian_filter(z, 1.5, mode="nearest", truncate=5 / 1.5)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2, blur(a * b) - mu_a * mu_b
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))


@pytest.mark.parametrize("shape", [(1, 13), (5, 4), (16, 16), (37, 29), (97, 130)])
def test_ssim_map_equals_the_numpy_formula(shape):
    rng = np.random.default_rng(shape[0])
    a = np.round(rng.random(shape) * 255)
    b = np.round(rng.normal(100, 60, shape))
    assert np.array_equal(ssim_map(a, b), _numpy_ssim_map(a, b))
    wide = np.round(rng.random((shape[0], 2 * shape[1])) * 255)
    assert np.array_equal(ssim_map(wide[:, ::2], b), _numpy_ssim_map(wide[:, ::2], b))


def _small_and_strided_images():
    rng = np.random.default_rng(97)
    ast = data.astronaut()
    return {
        "noise_16x16": rng.integers(0, 256, (16, 16, 3), dtype=np.uint8),
        "crop_16x40": ast[200:216, 180:220],
        "crop_97x130": ast[150:247, 170:300],
        "strided_view": ast[::3, 1::2],             # 171x256, not contiguous
        "flipped_view": data.coffee()[::-1, ::-5],  # negative strides
    }


# (cpbd, ceiq) outputs of the code before its numba kernels (commit 0503393) on these images.
RECORDED = {
    "noise_16x16": ([0.8333333333333334, 2.6666666666666665],
                    [0.890599316863321, 2.8966099890738453, 3.5673609652738665, 2.90817039935161, 4.0080039768340185]),
    "crop_16x40": ([0.8571428571428571, 3.4571428571428573], [0.015093143668874076, -0.0, -0.0, -0.0, -0.0]),
    "crop_97x130": ([0.4069767441860465, 5.401162790697675],
                    [0.4576669096480283, 1.607358862418463, 5.024328073217173, 1.3204247137483602, 7.840359717036637]),
    "strided_view": ([0.46728110599078343, 4.3986175115207375],
                     [0.8390973057039233, 2.785627677437297, 5.627381088891057, 2.3821266418671145,
                      7.4294213457965155]),
    "flipped_view": ([0.7149799885648942, 3.299028016009148],
                     [0.8989239688116692, 3.2921600468640912, 5.981348219523449, 2.9823132925237883,
                      7.566247146312331]),
}


@pytest.mark.parametrize("name", list(RECORDED))
def test_cpbd_and_ceiq_keep_their_values_on_small_and_strided_images(name):
    image = _small_and_strided_images()[name]
    expected_cpbd, expected_ceiq = RECORDED[name]
    np.testing.assert_allclose(cpbd.extract(image), expected_cpbd, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ceiq.extract(image), expected_ceiq, rtol=1e-12, atol=1e-15)
    contiguous = np.ascontiguousarray(image)
    assert np.array_equal(cpbd.extract(image), cpbd.extract(contiguous))
    assert np.array_equal(ceiq.extract(image), ceiq.extract(contiguous))
