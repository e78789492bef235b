"""NIQE through the harness equals pyiqa's own NIQE (calibration, as pyiqa's own tests do)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli

from bench.assets import resolve
from bench.errors import AssetMissing


def _calibration_images() -> list[Path]:
    import pyiqa

    folder = Path(pyiqa.__file__).resolve().parent.parent / "ResultsCalibra" / "dist_dir"
    images = sorted(folder.glob("*"))
    if len(images) < 5:
        pytest.skip("pyiqa's ResultsCalibra images are not installed")
    return images


def test_niqe_equals_pyiqa_on_its_calibration_images(niqe_cache):
    import pyiqa
    import torch

    images = _calibration_images()
    result = run_cli("score", "--method", "niqe", "--device", "cpu", *map(str, images))
    assert result.exit_code == 0, result.output
    ours = pd.read_csv(pd.io.common.StringIO(result.output))["score"].to_numpy()
    reference = pyiqa.create_metric("niqe", device="cpu",
                                    pretrained_model_path=str(niqe_cache / "niqe_modelparameters.mat"))
    theirs = np.array([float(reference(str(p)).item()) for p in images])
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    assert np.all(np.isfinite(ours)) and len(ours) == 5


def test_missing_niqe_parameters_fail_with_the_offline_message():
    with pytest.raises(AssetMissing) as info:
        resolve("niqe-params")
    message = str(info.value)
    assert "niqe_modelparameters.mat" in message and "https://huggingface.co/" in message and "put it at" in message


def test_run_reports_missing_asset_and_completes_others(tiny_dataset, results_dir):
    result = run_cli("run", "--methods", "niqe,test-lap-var", "--dataset", "tinyfiles", "--splits", "2",
                     "--results-dir", str(results_dir))
    assert result.exit_code == 1
    assert "niqe failed: pretrained file 'niqe_modelparameters.mat'" in result.stderr
    assert (results_dir / "tinyfiles" / "test-lap-var" / "split_1.csv").exists()


def test_niqe_prefers_sharp_images(niqe_cache, tmp_path):
    from PIL import Image
    from scipy import ndimage

    from skimage.data import astronaut  # a natural image shipped with scikit-image

    base = astronaut()[::2, ::2]
    paths = []
    for sigma in (0, 1.5, 3):
        img = ndimage.gaussian_filter(base.astype(float), sigma=(sigma, sigma, 0)).clip(0, 255).astype(np.uint8)
        paths.append(tmp_path / f"blur{sigma}.png")
        Image.fromarray(img).save(paths[-1])
    scores = pd.read_csv(pd.io.common.StringIO(run_cli("score", "--method", "niqe", *map(str, paths)).output))
    assert np.all(np.diff(scores["score"]) > 0)  # lower is better: blur raises NIQE
