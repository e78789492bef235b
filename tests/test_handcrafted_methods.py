"""The handcrafted and SVR rows of Table 1 as registered methods."""

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli
from PIL import Image
from scipy import ndimage

from bench.registry import get_method_info, resolve_method_names

PAPER_ROWS = {"ceiq": "CEIQ (f1)", "ceiq-release": "CEIQ", "niqe": "NIQE", "dsiqa": "DSIQA", "sisblim": "SISBLIM (approx.)",
              "gmlf": "GMLF", "higrade": "HIGRADE"}


def test_every_feature_set_has_a_training_free_or_svr_row_and_an_svr_variant():
    for name, display in PAPER_ROWS.items():
        assert get_method_info(name).display == display
    svr = set(resolve_method_names("svr"))
    assert {"gmlf", "higrade", "ceiq-svr", "dsiqa-svr", "sisblim-svr", "niqe-svr"} <= svr
    assert set(resolve_method_names("handcrafted")) >= {"ceiq", "niqe", "dsiqa", "sisblim"}
    assert not any(get_method_info(n).trains for n in ("ceiq", "niqe", "dsiqa", "sisblim"))


def test_score_and_svr_variant_share_one_feature_cache():
    from bench.registry import create_method

    assert create_method("ceiq").feature_key == create_method("ceiq-svr").feature_key == "ceiq"
    assert create_method("niqe").feature_key == create_method("niqe-svr").feature_key == "niqe"


@pytest.fixture(scope="module")
def blur_series(tmp_path_factory):
    from skimage.data import astronaut

    folder = tmp_path_factory.mktemp("blur")
    base = astronaut()[::2, ::2].astype(float)
    paths = []
    for sigma in (0, 1.0, 2.5):
        path = folder / f"blur_{sigma}.png"
        Image.fromarray(ndimage.gaussian_filter(base, (sigma, sigma, 0)).clip(0, 255).astype(np.uint8)).save(path)
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("method", ["dsiqa", "sisblim"])
def test_training_free_scores_fall_with_blur_through_the_cli(method, blur_series):
    result = run_cli("score", "--method", method, *blur_series)
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(pd.io.common.StringIO(result.output))["score"].to_numpy()
    assert np.all(np.diff(scores) < 0), scores


def test_ceiq_falls_with_contrast_loss_through_the_cli(tmp_path):
    from skimage.data import astronaut

    base = astronaut()[::2, ::2].astype(float)
    paths = []
    for k, factor in enumerate((1.0, 0.6, 0.3)):
        path = tmp_path / f"contrast_{k}.png"
        Image.fromarray((base.mean() + factor * (base - base.mean())).clip(0, 255).astype(np.uint8)).save(path)
        paths.append(str(path))
    scores = pd.read_csv(pd.io.common.StringIO(run_cli("score", "--method", "ceiq", *paths).output))["score"]
    assert np.all(np.diff(scores.to_numpy()) < 0), scores
