"""The handcrafted extractors give the outputs recorded before their speed-ups.

The fixture (``tests/data/equivalence/features.npz``) holds each extractor's output on 11
images, recorded from the commit named in it (``scripts/make_feature_equivalence.py``).
Speed-ups must leave the values unchanged up to float rounding: RTOL below, relative, with
ATOL for values near 0. These are far tighter than the tolerances against the original
MATLAB code in tests/test_reference_values.py.
"""
from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from feature_equivalence_images import equivalence_images
from methods.features import niqe
from methods.features._common import rgb2gray

HERE = Path(__file__).parent
FIXTURE = HERE / "data" / "equivalence" / "features.npz"
PRISTINE = HERE.parent / "bench" / "assets" / "shipped" / "niqe_pris_params.npz"
RTOL, ATOL = 1e-9, 1e-12


@pytest.fixture(scope="module")
def recorded():
    with np.load(FIXTURE, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def images():
    from PIL import Image

    found = equivalence_images()
    for path in sorted((HERE / "data" / "reference" / "images").glob("*.png")):
        found[f"reference_{path.stem}"] = np.asarray(Image.open(path).convert("RGB"))
    return found


def test_fixture_covers_every_image_and_extractor(recorded, images):
    keys = {key.split("/")[0] for key in recorded if key != "source"}
    assert keys == set(images) and len(images) == 11
    assert all(f"{name}/{ex}" in recorded for name in images
               for ex in ("gmlf", "higrade", "ceiq", "cpbd", "sisblim", "niqe_blocks", "niqe_score"))


@pytest.mark.parametrize("module", ["gmlf", "higrade", "ceiq", "cpbd", "sisblim"])
def test_extractor_matches_recorded_outputs(module, recorded, images):
    extract = importlib.import_module(f"methods.features.{module}").extract
    for name, image in images.items():
        np.testing.assert_allclose(extract(image), recorded[f"{name}/{module}"], rtol=RTOL, atol=ATOL,
                                   err_msg=f"{module} on {name}")


def test_niqe_matches_recorded_outputs(recorded, images):
    pristine = niqe.read_pristine(PRISTINE)
    for name, image in images.items():
        np.testing.assert_allclose(niqe.block_feature_matrix(rgb2gray(image)), recorded[f"{name}/niqe_blocks"],
                                   rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=f"niqe blocks on {name}")
        assert niqe.score(image, *pristine) == pytest.approx(recorded[f"{name}/niqe_score"][0], rel=RTOL), name
