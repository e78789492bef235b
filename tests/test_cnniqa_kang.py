"""CNNIQA as Kang et al. (CVPR 2014): grayscale, local contrast normalisation, 32x32 patches."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.signal import convolve2d

from bench.registry import create_method, get_method_info
from bench.testing.images import write_image_set
from bench.train.loop import ImageDataset, default_config, make_loader, train_model
from methods.cnniqa_kang import grayscale, local_contrast_normalise, patches_of


def test_registered_as_its_own_row():
    info = get_method_info("cnniqa-kang")
    assert info.display == "CNNIQA" and info.family == "deep" and info.trains and not info.assets  # the paper's row
    variant = get_method_info("cnniqa")  # pyiqa's RGB whole-image network: its own row, no paper figure
    assert variant.display == "CNNIQA (pyiqa RGB variant)" and variant.fidelity_kind == "variant"
    config = default_config("cnniqa-kang")
    assert config.loss == "l1" and config.hflip is False


def test_local_contrast_normalisation_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    gray = rng.uniform(0, 255, (20, 24))
    kernel = np.ones((3, 3)) / 9
    mean = convolve2d(gray, kernel, boundary="symm", mode="same")
    std = np.sqrt(np.maximum(convolve2d(gray ** 2, kernel, boundary="symm", mode="same") - mean ** 2, 0))
    expected = (gray - mean) / (std + 1.0)
    got = local_contrast_normalise(torch.tensor(gray)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_grayscale_is_luma_and_patches_tile_row_by_row():
    images = torch.rand(2, 3, 64, 96)
    gray = grayscale(images)
    expected = (0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]) * 255
    torch.testing.assert_close(gray[:, 0], expected)
    patches = patches_of(gray)
    assert patches.shape == (2, 6, 1, 32, 32)
    torch.testing.assert_close(patches[1, 4], gray[1, :, 32:64, 32:64])  # row 1, column 1


def test_an_image_scores_the_mean_of_its_patches(tmp_path):
    method = create_method("cnniqa-kang")
    torch.manual_seed(0)
    model = method.build_model(1, pretrained=False).eval()
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        scores = method.forward(model, {"image": images})
        one = [model(local_contrast_normalise(grayscale(images[:1, :, r:r + 32, c:c + 32])))
               for r in (0, 32) for c in (0, 32)]
    assert scores.shape == (2, 1)
    torch.testing.assert_close(scores[0, 0], torch.stack(one).mean())


def test_learns_a_fixed_batch_of_patches(tmp_path):
    frame = write_image_set(tmp_path, n_groups=1, per_group=8)
    method = create_method("cnniqa-kang")
    config = replace(default_config("cnniqa-kang"), lr=1e-3, epochs=8, batch_size=8, image_size=64, num_workers=0)
    torch.manual_seed(0)
    model = method.build_model(1, pretrained=False)
    y = (frame["mos"] - frame["mos"].min()).to_numpy()[:, None] / np.ptp(frame["mos"])
    loader = make_loader(ImageDataset(frame, method.transform(config, True), y), 8, config, shuffle=False, device="cpu")
    report = train_model(model, method.forward, method.param_groups(model, config.lr), loader, config, "cpu")
    assert np.mean(report.epoch_loss[-3:]) < np.mean(report.epoch_loss[:3]), report.epoch_loss


def test_too_small_images_are_refused():
    from bench.errors import BenchError

    with pytest.raises(BenchError, match="at least 32x32"):
        patches_of(torch.zeros(1, 1, 16, 40))
