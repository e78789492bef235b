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


def _lines(x, w, axis, mode, cval=0.0):
    """correlate_line over every output line of x along ``axis``, on x padded as ndimage pads
    it: what ``ndimage.correlate1d`` computes."""
    w = np.asarray(w, dtype=np.float64)
    shape = (len(w), 1) if axis == 0 else (1, len(w))
    p = _filters.pad_for(x, shape, mode, cval)
    out, before, kind = np.empty_like(x), len(w) // 2, _filters.kernel_symmetry(w)
    for i in range(x.shape[0]):
        if axis == 0:  # the taps are whole padded rows, a row's width apart
            _filters.correlate_line(p.ravel(), i * p.shape[1], p.shape[1], x.shape[1], w, before, kind, out[i])
        else:
            _filters.correlate_line(p[i], 0, 1, x.shape[1], w, before, kind, out[i])
    return out


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kernel", list(KERNELS))
def test_correlate_line_equals_ndimage(image, kernel, mode, axis):
    expected = ndimage.correlate1d(image, KERNELS[kernel], axis=axis, mode=mode, cval=3.5)
    assert np.array_equal(_lines(image, KERNELS[kernel], axis, mode, cval=3.5), expected)


@pytest.mark.parametrize("mode", MODES)
def test_gaussian_weights_on_both_axes_equal_ndimage_gaussian_filter(image, mode):
    for sigma, truncate in ((1.0, 4.0), (1.5, 5 / 1.5), (7 / 6, 3.0)):
        expected = ndimage.gaussian_filter(image, sigma, mode=mode, truncate=truncate)
        w = _filters.gaussian_weights(sigma, truncate)
        assert np.array_equal(_lines(_lines(image, w, 0, mode), w, 1, mode), expected)


def test_the_order_matters():
    """A kernel summed in another order gives other bits: the equality above is not vacuous."""
    x = np.random.default_rng(0).normal(0, 1e3, (64, 64))
    w = KERNELS["symmetric"]
    naive = sum(w[k] * np.pad(x, ((2, 2), (0, 0)))[k: k + 64] for k in range(5))
    assert not np.array_equal(naive, ndimage.correlate1d(x, w, axis=0, mode="constant"))


KERNELS_2D = {
    "gaussian 7x7": np.outer(*(2 * [np.exp(-0.5 * np.arange(-3, 4) ** 2 / (7 / 6) ** 2)])) / 9.0,
    "general 5x5 with zero and sub-epsilon taps": np.where(
        np.arange(25).reshape(5, 5) % 7 == 3, 0.0,
        np.random.default_rng(3).normal(0, 1, (5, 5))) * np.where(np.eye(5, dtype=bool), 1e-17, 1.0),
    "even 4x3": np.arange(12.0).reshape(4, 3) - 5.5,
    "one row": np.array([[0.25, 0.5, 0.25]]),
    "one tap": np.array([[1.7]]),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kernel", list(KERNELS_2D))
def test_correlate2d_equals_ndimage(image, kernel, mode):
    k = KERNELS_2D[kernel]
    expected = ndimage.correlate(image, k, mode=mode, cval=3.5)
    assert np.array_equal(_filters.correlate2d(image, k, mode, cval=3.5), expected)
    for part in (image[1::2, ::3], image[:3, :2]):  # a strided view; an image smaller than the kernel
        assert np.array_equal(_filters.correlate2d(part, k, mode), ndimage.correlate(part, k, mode=mode))


def test_the_footprint_skips_sub_epsilon_weights():
    """NI_Correlate drops the taps with |w| <= DBL_EPSILON: summing them too gives other bits."""
    x = np.random.default_rng(1).normal(0, 1, (16, 16))
    x[:, 1::2] *= 1e17  # where a tap of 2e-16 adds more than half an ulp of the others' sum
    k = np.array([[1.0, 2e-16, 1.0]])
    rows, cols, weights = _filters.footprint(k)
    assert list(rows) == [0, 0] and list(cols) == [0, 2] and list(weights) == [1.0, 1.0]
    expected = ndimage.correlate(x, k, mode="nearest")
    assert np.array_equal(_filters.correlate2d(x, k, "nearest"), expected)
    every_tap = (np.zeros(3, dtype=np.int64), np.arange(3), k[0])
    p = _filters.pad_for(x, k.shape, "nearest")
    assert not np.array_equal(_filters._correlate2d(p, *every_tap, np.empty(x.shape)), expected)


@pytest.mark.parametrize("mode", ["nearest", "reflect", "constant"])
def test_correlate_row_moments_equal_ndimage_of_x_and_x_squared(image, mode):
    k = KERNELS_2D["gaussian 7x7"]
    p = _filters.pad_for(image, k.shape, mode)
    mean, mean_sq = np.empty(image.shape[1]), np.empty(image.shape[1])
    expected, expected_sq = (ndimage.correlate(z, k, mode=mode) for z in (image, image * image))
    for i in range(image.shape[0]):
        _filters.correlate_row_moments(p, i, *_filters.footprint(k), mean, mean_sq)
        assert np.array_equal(mean, expected[i]) and np.array_equal(mean_sq, expected_sq[i])


def test_the_2d_order_matters(image):
    """Summed separably, or the taps in another order, the 7x7 window gives other bits."""
    g = np.exp(-0.5 * np.arange(-3, 4) ** 2 / (7 / 6) ** 2)
    g /= g.sum()
    k = np.outer(g, g)
    x = np.random.default_rng(0).normal(0, 1e3, (64, 64))
    expected = ndimage.correlate(x, k, mode="nearest")
    assert not np.array_equal(ndimage.correlate1d(ndimage.correlate1d(x, g, 0, mode="nearest"), g, 1, mode="nearest"),
                              expected)
    p = _filters.pad_for(x, k.shape, "nearest")
    reversed_taps = sum(k[r, c] * p[r: r + 64, c: c + 64] for r in range(6, -1, -1) for c in range(6, -1, -1))
    assert not np.array_equal(reversed_taps, expected)
