"""The compiled loops of the handcrafted extractors equal the array code they replaced.

Each comparison is against the array form written out here (numpy and scipy.ndimage), on
images with flat patches (where summation orders show) and on small and odd shapes.
"""
import numpy as np
import pytest
from helpers import gaussian_window
from scipy import ndimage

from methods.features import _common, higrade
from methods.features._filters import symmetric_sum


@pytest.fixture(scope="module")
def codes():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (67, 90)).astype(np.float64)
    x[10:30, 20:50] = 131.0
    return x


def _colours(n=200_704):
    rng = np.random.default_rng(11)
    rgb = rng.integers(0, 256, (n, 3), dtype=np.uint8)
    grey = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    return np.concatenate([rgb, grey]).reshape(-1, 16, 3)  # an (n / 16, 16, 3) "image"


def test_rgb2gray_equals_the_matrix_product_form():
    rgb = _colours()
    expected = np.floor(np.einsum("...c,c->...", rgb.astype(np.float64), _common._GRAY) + 0.5)
    assert np.array_equal(_common.rgb2gray(np.ascontiguousarray(rgb)), expected)


def test_lab_codes_equal_the_array_form():
    rgb = _colours()
    lin = higrade._SRGB_TO_LINEAR[rgb]
    x, y, z = (np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
               for t in (np.einsum("...c,c->...", lin, row) / wp
                         for row, wp in zip(higrade._RGB2XYZ_D50, higrade._WHITE_D50)))
    lab = np.stack([116 * y - 16, 500 * (x - y), 200 * (y - z)], -1)
    expected = np.clip(np.floor(lab * [255 / 100, 1, 1] + [0, 128, 128] + 0.5), 0, 255)
    assert np.array_equal(higrade.lab_uint8(rgb), np.moveaxis(expected, -1, 0))


@pytest.mark.parametrize("shape", [(67, 90), (16, 16), (9, 5)])
def test_sobel_magnitude_equals_ndimage(codes, shape):
    x = codes[: shape[0], : shape[1]].copy()
    expected = np.hypot(ndimage.sobel(x, 0, mode="nearest"), ndimage.sobel(x, 1, mode="nearest"))
    assert np.array_equal(higrade._sobel_magnitude_of_codes(x, higrade._hypot_table()), expected)


def _half_axis(a, axis):
    """MATLAB imresize(., 0.5) along one axis as array code: mirrored by 4, 8 taps summed in order."""
    m = (a.shape[axis] + 1) // 2
    widths = [(0, 0)] * a.ndim
    widths[axis] = (4, 4)
    p = np.pad(a, widths, mode="symmetric")
    index = [slice(None)] * a.ndim
    out = 0
    for k, w in zip(_common._HALF_OFFSETS, _common._HALF_TAPS):
        index[axis] = slice(4 + k, 4 + k + 2 * m - 1, 2)
        out = out + w * p[tuple(index)]
    return out


@pytest.mark.parametrize("shape", [(67, 90), (16, 17), (3, 5), (1, 7)])
def test_imresize_half_equals_the_array_form(codes, shape):
    x = codes[: shape[0], : shape[1]] / 7.0  # a strided view, non-integer values
    assert np.array_equal(_common.imresize_half(x), _half_axis(_half_axis(x, 0), 1))


@pytest.mark.parametrize("shape", [(67, 90), (16, 16), (5, 9)])
def test_local_statistics_equal_the_two_filter_form(codes, shape):
    im = codes[: shape[0], : shape[1]].copy()
    mu = gaussian_window(im, 7, 7 / 6)
    sigma = np.sqrt(np.abs(gaussian_window(im * im, 7, 7 / 6) - mu * mu))
    mscn = (im - mu) / (sigma + 1)
    got = higrade._local_statistics(im, higrade._WINDOW_1D)
    for name, a, b in zip(("sigma", "mscn", "|mscn| + 0.1"), got, (sigma, mscn, np.abs(mscn) + 0.1)):
        assert np.array_equal(a, b), name


@pytest.mark.parametrize("width", [90, 16, 3])
def test_the_column_pass_equals_ndimage_zero_padded(codes, width):
    """HIGRADE's column pass: symmetric_sum along a zero-padded row, with its window."""
    row, g = codes[5, :width], higrade._WINDOW_1D
    padded = np.pad(row, len(g) // 2)
    got = [symmetric_sum(padded, j, g) for j in range(width)]
    assert np.array_equal(got, ndimage.correlate1d(row, np.array(g), mode="constant"))


def _fitted_maps(mscn, lg):
    """The release's eight maps as array expressions (circular shifts, zero-padded filter2)."""
    z = np.pad(lg, 1)
    return [mscn] + [lg - np.roll(lg, s, axis=(0, 1)) for s in ((0, 1), (1, 0), (1, 1), (-1, 1))] + [
        lg + np.roll(lg, (1, 1), axis=(0, 1)) - np.roll(lg, (0, 1), axis=(0, 1)) - np.roll(lg, (1, 0), axis=(0, 1)),
        z[:-2, 1:-1] + z[2:, 1:-1] - z[1:-1, :-2] - z[1:-1, 2:],
        z[:-2, :-2] - z[:-2, 2:] - z[2:, :-2] + z[2:, 2:]]


@pytest.mark.parametrize("shape", [(67, 90), (300, 260), (9, 5)])
def test_centred_moments_equal_the_array_form(codes, shape):
    rng = np.random.default_rng(1)
    im = np.resize(codes, shape) + rng.normal(0, 1, shape)  # wider than one 128-column strip
    _, mscn, lg = higrade.mscn_maps(im)
    squares, absolutes = higrade._centred_moments(mscn, lg)
    for k, v in enumerate(_fitted_maps(mscn, lg)):
        c = v - v.mean()
        np.testing.assert_allclose(squares[k], np.mean(c * c), rtol=1e-12, err_msg=str(k))
        np.testing.assert_allclose(absolutes[k], np.mean(np.abs(c)), rtol=1e-12, err_msg=str(k))


def test_nakagami_moments_equal_numpy(codes):
    sigma, _, _ = higrade.mscn_maps(codes)
    v = sigma.ravel() + np.finfo(float).eps
    m, s = higrade._mean_and_std(sigma, np.finfo(float).eps)
    np.testing.assert_allclose([m, s], [v.mean(), v.std(ddof=1)], rtol=1e-13)


def test_a_changed_source_drops_the_compiled_cache(tmp_path, monkeypatch):
    """numba would keep a kernel's old copy of a function from another module: any change in
    methods/features/ drops the folder's cache."""
    import shutil

    from methods.features import _jit

    folder = tmp_path / "features"
    (folder / "__pycache__").mkdir(parents=True)
    shutil.copy(_jit.__file__, folder / "_jit.py")
    (folder / "_filters.py").write_text("x = 1\n")
    stale = folder / "__pycache__" / "gmlf._joint_counts-1.py311.nbi"
    stale.write_bytes(b"old")
    monkeypatch.setattr(_jit, "__file__", str(folder / "_jit.py"))
    _jit._drop_stale_cache()
    assert not stale.exists()
    stale.write_bytes(b"new")  # compiled again from the same sources: kept
    _jit._drop_stale_cache()
    assert stale.exists()
    (folder / "_filters.py").write_text("x = 2\n")
    _jit._drop_stale_cache()
    assert not stale.exists()
