"""NIQE: the asset contract and the direction of the score (reference values: test_reference_values.py)."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli
from PIL import Image

import bench.assets
from bench.assets import resolve
from bench.errors import AssetMissing
from bench.testing.images import textured_image


def test_a_missing_asset_fails_with_the_offline_message():
    import methods.handcrafted  # noqa: F401  (registers the ceiq-model asset: no shipped copy)

    with pytest.raises(AssetMissing) as info:
        resolve("ceiq-model")
    message = str(info.value)
    assert "model.mat" in message and "https://raw.githubusercontent.com/" in message and "put it at" in message


def test_run_reports_missing_asset_and_completes_others(tiny_dataset, results_dir):
    result = run_cli("run", "--methods", "ceiq-release,test-lap-var", "--dataset", "tinyfiles", "--splits", "2",
                     "--results-dir", str(results_dir))
    assert result.exit_code == 1
    assert "ceiq-release failed: pretrained file 'model.mat'" in result.stderr
    assert (results_dir / "tinyfiles" / "test-lap-var" / "split_1.csv").exists()


def test_niqe_parameters_ship_with_the_package(offline_cache):
    """An empty cache, no downloads: NIQE resolves to the package's copy, checksum verified."""
    from methods.handcrafted import NIQE_PARAMS

    path = resolve(NIQE_PARAMS.name)
    assert path.parent == Path(bench.assets.__file__).parent / "shipped" and path.name == "niqe_pris_params.npz"
    assert (path.parent / "LICENSE-BasicSR.txt").read_text().lstrip().startswith("Apache License")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == NIQE_PARAMS.shipped_sha256
    assert bench.assets.provenance(NIQE_PARAMS.name) == {"file": "niqe_pris_params.npz", "source": "shipped",
                                                         "sha256": NIQE_PARAMS.shipped_sha256}
    assert bench.assets.availability(NIQE_PARAMS.name) == "shipped"
    assert not list(offline_cache.rglob("*.mat"))  # nothing was fetched or written


def test_shipped_niqe_parameters_equal_the_official_file(shared):
    from methods.features.niqe import read_pristine
    from methods.handcrafted import NIQE_PARAMS

    official = shared / "assets" / "niqe" / "niqe_modelparameters.mat"
    assert hashlib.sha256(official.read_bytes()).hexdigest() == NIQE_PARAMS.sha256  # the file the URL serves
    mu, cov = read_pristine(resolve(NIQE_PARAMS.name))
    mu_official, cov_official = read_pristine(official)
    assert mu.shape == (1, 36) and cov.shape == (36, 36) and mu.dtype == cov.dtype == np.float64
    assert np.array_equal(mu, mu_official) and np.array_equal(cov, cov_official)  # bit for bit


def test_the_official_file_in_the_cache_comes_first(shared, offline_cache):
    from methods.handcrafted import NIQE_PARAMS

    placed = bench.assets.copy_into_cache(shared / "assets" / "niqe" / "niqe_modelparameters.mat")
    assert resolve(NIQE_PARAMS.name) == placed
    assert bench.assets.provenance(NIQE_PARAMS.name) == {"file": "niqe_modelparameters.mat", "source": "cache",
                                                         "sha256": NIQE_PARAMS.sha256}


def test_a_damaged_shipped_copy_is_refused(tmp_path, monkeypatch):
    from methods.handcrafted import NIQE_PARAMS

    damaged = tmp_path / "niqe_pris_params.npz"
    damaged.write_bytes(b"not the parameters")
    monkeypatch.setattr(bench.assets, "shipped_path", lambda asset: damaged if asset.shipped else None)
    with pytest.raises(AssetMissing, match="sha256"):
        resolve(NIQE_PARAMS.name)


def test_niqe_runs_offline_and_its_manifest_says_the_shipped_copy_was_used(tmp_path, monkeypatch, results_dir):
    rng = np.random.default_rng(0)
    folder = tmp_path / "tiny96"
    folder.mkdir()
    rows = []
    for i in range(12):  # NIQE needs 96-px blocks
        Image.fromarray(textured_image(rng, 96)).save(folder / f"img_{i:02d}.png")
        rows.append({"image": f"img_{i:02d}.png", "prompt": "p", "group": str(i // 2), "mos": float(i)})
    pd.DataFrame(rows).to_csv(folder / "labels.csv", index=False)
    monkeypatch.setenv("TEST_TINY_ROOT", str(folder))
    result = run_cli("run", "--methods", "niqe,niqe-svr", "--dataset", "tinyfiles", "--splits", "1",
                     "--results-dir", str(results_dir))
    assert result.exit_code == 0, result.stderr
    for method in ("niqe", "niqe-svr"):
        manifest = json.loads((results_dir / "tinyfiles" / method / "run.json").read_text())
        assert manifest["assets"] == {"niqe-params": bench.assets.provenance("niqe-params")}
        assert manifest["assets"]["niqe-params"]["source"] == "shipped"
        assert pd.read_csv(results_dir / "tinyfiles" / method / "split_0.csv")["pred"].notna().all()
    assert run_cli("run", "--methods", "niqe", "--dataset", "tinyfiles", "--eval", "all",
                   "--results-dir", str(results_dir)).exit_code == 0
    from bench.run.whole_dataset import all_images_dir

    whole = json.loads((all_images_dir(results_dir, "tinyfiles", "niqe") / "run.json").read_text())
    assert whole["assets"]["niqe-params"]["source"] == "shipped"


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
