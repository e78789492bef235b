"""The fast filters of methods/features/_filters.py equal SciPy's bit for bit."""
import numpy as np
import pytest
from scipy import ndimage

from methods.features import _filters

MODES = ["constant", "nearest", "reflect", "mirror", "wrap"]
KERNELS = {
    "symmetric": np.array([0.05, 0.2, 0.5, 0.2, 0.05]) / 1.0000001,
    "antisymmetric": np.array([-1.0, 0.0, 1.0]),
    "general": np.array([0.3, -0.7, 1.9, 0.2]),
    "one tap": np.array([1.7]),
}


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(5)
    x = rng.normal(120, 40, (37, 29))
    x[5:15, 3:20] = 200.0  # a flat patch: rounding noise is where orders show
    return x


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kernel", list(KERNELS))
def test_correlate1d_rows_equals_ndimage(image, kernel, mode):
    expected = ndimage.correlate1d(image, KERNELS[kernel], axis=0, mode=mode, cval=3.5)
    assert np.array_equal(_filters.correlate1d_rows(image, KERNELS[kernel], mode, cval=3.5), expected)


@pytest.mark.parametrize("mode", MODES)
def test_gaussian_and_sobel_equal_ndimage(image, mode):
    for sigma, truncate in ((1.0, 4.0), (1.5, 5 / 1.5), (7 / 6, 3.0)):
        expected = ndimage.gaussian_filter(image, sigma, mode=mode, truncate=truncate)
        assert np.array_equal(_filters.gaussian_filter(image, sigma, mode, truncate), expected)
    for axis in (0, 1):
        assert np.array_equal(_filters.sobel(image, axis, mode), ndimage.sobel(image, axis, mode=mode))


def test_the_order_matters():
    """A kernel summed in another order gives other bits: the equality above is not vacuous."""
    x = np.random.default_rng(0).normal(0, 1e3, (64, 64))
    w = KERNELS["symmetric"]
    naive = sum(w[k] * np.pad(x, ((2, 2), (0, 0)))[k: k + 64] for k in range(5))
    assert not np.array_equal(naive, ndimage.correlate1d(x, w, axis=0, mode="constant"))
