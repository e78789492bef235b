"""NIQE: the asset contract and the direction of the score (reference values: test_reference_values.py)."""


import numpy as np
import pandas as pd
import pytest
from conftest import run_cli

from bench.assets import resolve
from bench.errors import AssetMissing


def test_missing_niqe_parameters_fail_with_the_offline_message():
    import methods.handcrafted  # noqa: F401  (registers the niqe-params asset)

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
