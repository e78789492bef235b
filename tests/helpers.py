"""Helpers for the tests (no side effects at import; fixtures stay in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


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


def write_manifest(directory: Path, fields: dict) -> None:
    """A run.json for split files a test wrote by hand, recording their hashes as the runner does."""
    from bench.results.completion import record_files
    from bench.results.manifest import SCHEMA, RunManifest
    from bench.results.store import split_files

    manifest = RunManifest.from_dict({"schema": SCHEMA, **fields})
    record_files(manifest, directory, sorted(split_files(directory)))
    manifest.write(directory)


def gaussian_window(image: np.ndarray, size: int, sigma: float) -> np.ndarray:
    """MATLAB's ``filter2(fspecial('gaussian', size, sigma), image, 'same')`` as the extractors
    apply it, written with SciPy: separably, down the columns then along the rows, zero-padded."""
    from scipy import ndimage

    from methods.features._common import gaussian_taps

    g = gaussian_taps(size, sigma)
    return ndimage.correlate1d(ndimage.correlate1d(image, g, axis=0, mode="constant"), g, axis=1, mode="constant")
