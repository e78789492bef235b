"""Shared fixtures: every test runs offline, with a private cache and results folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(autouse=True)
def offline_cache(tmp_path_factory, monkeypatch):
    """A fresh, empty asset cache per test, and no downloads."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("IPIQA_BENCH_CACHE", str(cache))
    monkeypatch.setenv("IPIQA_BENCH_OFFLINE", "1")
    return cache


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is absent (a user's clone has none)")
    return SHARED


@pytest.fixture
def niqe_cache(shared, monkeypatch, tmp_path):
    """The asset cache pointed at the NIQE parameter file shipped in ../shared."""
    monkeypatch.setenv("IPIQA_BENCH_CACHE", str(shared / "assets" / "niqe"))
    return shared / "assets" / "niqe"


def textured_image(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """A deterministic image with edges and texture (natural-scene-like statistics)."""
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.zeros((size, size, 3))
    for _ in range(6):
        fx, fy, phase = rng.uniform(1, 12), rng.uniform(1, 12), rng.uniform(0, 2 * np.pi)
        img += rng.uniform(0.2, 1.0, 3) * np.sin(2 * np.pi * (fx * x + fy * y) + phase)[..., None]
    img += (x > rng.uniform(0.2, 0.8))[..., None] * rng.uniform(-1, 1, 3)
    img = (img - img.min()) / np.ptp(img)
    return (img * 255).astype(np.uint8)


def write_image_set(folder: Path, n_groups: int = 10, per_group: int = 4, seed: int = 0) -> pd.DataFrame:
    """Images with a known quality (blur level) in a tiny AGIQA-like frame."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for g in range(n_groups):
        base = textured_image(rng)
        for i in range(per_group):
            blur = rng.uniform(0, 3)
            img = ndimage.gaussian_filter(base.astype(float), sigma=(blur, blur, 0))
            name = f"img_{g:02d}_{i}.png"
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / name)
            rows.append({"image": name, "path": str(folder / name), "prompt": f"prompt {g}",
                         "group": str(g), "mos": 5 - blur + rng.normal(0, 0.1)})
    return pd.DataFrame(rows)


@pytest.fixture
def tiny_dataset(tmp_path, monkeypatch):
    """The plugin dataset 'tinyfiles': 40 generated images in 10 content groups."""
    frame = write_image_set(tmp_path / "tiny")
    frame.drop(columns="path").to_csv(tmp_path / "tiny" / "labels.csv", index=False)
    monkeypatch.setenv("TEST_TINY_ROOT", str(tmp_path / "tiny"))
    monkeypatch.setenv("TEST_FEATURE_LOG", str(tmp_path / "feature_calls.log"))
    return frame


@pytest.fixture
def no_network(monkeypatch):
    """Any download attempt (socket, torch hub, pyiqa's downloader) fails the test."""
    import socket

    import pyiqa.utils.download_util as pyiqa_download
    import torch

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(pyiqa_download, "load_file_from_url", refuse)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module's torch work: on a shared 2-core box, threads
    fighting other processes cost ~30x. Restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def results_dir(tmp_path) -> Path:
    return tmp_path / "results"


def write_results(results_dir: Path, dataset: str, method: str, display: str, pred_noise: float,
                  family: str = "alignment", target: str = "mos_align") -> None:
    """Result files as the runner writes them, for rendering tests (3 splits of 50 images)."""
    from bench.results import manifest as manifests
    from bench.results.store import write_predictions
    from bench.splits import SplitConfig, ensure_splits, splits_hash

    rng = np.random.default_rng(0)
    images = [f"img{i:03d}.png" for i in range(50)]
    groups = [str(i // 2) for i in range(50)]
    mos = rng.normal(3, 1, 50)
    path = ensure_splits(results_dir / dataset, pd.Series(images), pd.Series(groups), SplitConfig(3, 0, 0.2))
    splits = pd.read_csv(path)
    for k in range(3):
        test = splits[f"split_{k}"] == "test"
        write_predictions(results_dir / dataset / method / f"split_{k}.csv", pd.DataFrame({
            "image": splits.loc[test, "image"], "group": splits.loc[test, "group"], "target": target,
            "mos": mos[test.to_numpy()], "pred": mos[test.to_numpy()] + rng.normal(0, pred_noise, int(test.sum()))}))
    write_manifest(results_dir / dataset / method, {
        "method": method, "display": display, "family": family, "dataset": dataset, "targets": [target],
        "sign": 1, "config": {}, "plcc_mapping": "logistic", "splits_hash": splits_hash(path), "n_splits": 3,
        "versions": manifests.package_versions()})


def run_cli(*args: str):
    """Run the CLI in-process; returns click's Result (exit_code, stdout, stderr)."""
    from click.testing import CliRunner

    from bench.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# Test-only methods and datasets (tests/plugin_fixtures.py), visible to subprocesses too.
TESTS = Path(__file__).resolve().parent
os.environ["IPIQA_BENCH_PLUGINS"] = "plugin_fixtures"
os.environ["PYTHONPATH"] = os.pathsep.join([str(TESTS.parent), str(TESTS), os.environ.get("PYTHONPATH", "")])
sys.path.insert(0, str(TESTS))


def write_manifest(directory: Path, fields: dict) -> None:
    """A run.json for split files a test wrote by hand, recording their hashes as the runner does."""
    from bench.results.completion import record_files
    from bench.results.manifest import SCHEMA, RunManifest
    from bench.results.store import split_files

    manifest = RunManifest.from_dict({"schema": SCHEMA, **fields})
    record_files(manifest, directory, sorted(split_files(directory)))
    manifest.write(directory)
