"""The method contract, checked on every registered method (as timm's tests sweep
``list_models()`` and scikit-learn's ``parametrize_with_checks`` runs one suite on every
estimator): a new method, built-in or plugin, is tested without anyone listing it.

Each method is built with its ``smoke_config()`` (bench.method.Method: tiny images, one
epoch, a small architecture) and checked for: construction and clone-from-config,
declared assets, fit/predict through the runner on generated images (one split) with the
results layout and the targets it declares, its row in the tables, and the checkpoint
round trip where it writes checkpoints. A method whose pretrained files are absent runs
with ``pretrained=False`` if it has that option and is skipped, with the reason, if not.

A method class with ``smoke_slow = True`` (its smoke run still takes many seconds) is marked
``slow``; one with ``contract_xfail = "<reason>"`` (tests' broken fixture) must fail.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED, textured_image
from PIL import Image

from bench.assets import get_asset, is_present
from bench.datasets import Dataset
from bench.targets import TARGET_COLUMN_KINDS, target_kind
from bench.method import FeatureMethod
from bench.registry import create_method, get_method_info, list_methods
from bench.report import tables
from bench.results.loading import load_results, split_metrics
from bench.results.manifest import RunManifest
from bench.results.store import read_predictions
from bench.run.executors import LocalExecutor
from bench.run.runner import RunOptions, run_benchmark
from bench.splits import SplitConfig, load_splits

pytestmark = pytest.mark.usefixtures("one_torch_thread", "no_network")  # nothing downloads unasked
# 96 px: NIQE's blocks are 96 px; networks resize to their smoke image size anyway.
IMAGE_SIZE, GROUPS, PER_GROUP = 96, 8, 2
# AGIQA-3k's targets (one model per target for most networks: two are enough); a method
# predicting neither kind gets every registered column instead.
AGIQA3K_TARGETS = ("mos_quality", "mos_align")


def _params():
    for info in list_methods():
        marks = [pytest.mark.slow] if info.cls.smoke_slow else []
        reason = getattr(info.cls, "contract_xfail", "")
        if reason:
            marks.append(pytest.mark.xfail(reason=reason, strict=True))
        yield pytest.param(info.name, marks=marks, id=info.name)


@pytest.fixture(scope="module")
def contract_frame(tmp_path_factory) -> pd.DataFrame:
    """Generated images with every registered target column and a prompt per group."""
    folder = tmp_path_factory.mktemp("contract")
    rng = np.random.default_rng(0)
    rows = []
    for g in range(GROUPS):
        for i in range(PER_GROUP):
            name = f"img_{g}_{i}.png"
            Image.fromarray(textured_image(rng, IMAGE_SIZE)).save(folder / name)
            rows.append({"image": name, "path": str(folder / name), "prompt": f"a red cat on a chair, style {g}",
                         "group": str(g), **{t: float(rng.normal(3, 1)) for t in TARGET_COLUMN_KINDS}})
    return pd.DataFrame(rows)


def _dataset(frame: pd.DataFrame, kinds: tuple[str, ...]) -> Dataset:
    targets = [t for t in AGIQA3K_TARGETS if target_kind(t) in kinds] or list(TARGET_COLUMN_KINDS)
    return Dataset("contract", frame, tuple(targets), Path(frame["path"].iloc[0]).parent)


@pytest.fixture
def shared_assets(tmp_path, monkeypatch):
    """An asset cache holding the files shipped in ../shared/assets (NIQE's parameters)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    for path in (SHARED / "assets").rglob("*") if SHARED.is_dir() else ():
        if path.is_file():
            (cache / path.name).symlink_to(path)
    monkeypatch.setenv("IPIQA_BENCH_CACHE", str(cache))


def _absent(name: str, config: dict) -> list[str]:
    return [a for a in create_method(name, **config).required_assets() if not is_present(a)]


def _runnable_config(name: str, config: dict) -> tuple[dict, str]:
    """The smoke config, at random init where pretrained files are absent; or a skip reason."""
    absent = _absent(name, config)
    if absent and "pretrained" in create_method(name, **config).get_config():
        config = {**config, "pretrained": False}
        absent = _absent(name, config)
    if absent:
        return config, f"{name}: needs {', '.join(get_asset(a).filename for a in absent)} (absent) and " \
                       f"its random initialisation does not do without them"
    return config, ""


def _predict(method, frame: pd.DataFrame) -> pd.DataFrame:
    """Predictions of a restored method, by the path `ipiqa-bench score` takes."""
    if isinstance(method, FeatureMethod):
        X = method.features_of_rows(frame["path"].tolist(), frame["prompt"].tolist())
        return pd.DataFrame(method.predict_features(X), index=frame.index)
    return method.predict(frame)


@pytest.mark.parametrize("name", list(_params()))
def test_method_contract(name, contract_frame, shared_assets, tmp_path, capsys):
    info = get_method_info(name)
    contract_data = _dataset(contract_frame, info.targets)
    smoke = info.cls.smoke_config()
    method = create_method(name, **smoke)  # every smoke key is a constructor argument
    assert method.method_name == name
    config = method.get_config()
    assert create_method(name, **config).get_config() == config  # the config rebuilds the method

    for asset in info.assets:
        get_asset(asset)  # declared assets are in the asset table (KeyError otherwise)
    assert set(create_method(name).required_assets()) <= set(info.assets)  # none needed undeclared

    smoke, skip = _runnable_config(name, smoke)
    if skip:
        with capsys.disabled():
            print(f"\n  skipped {skip}")
        pytest.skip(skip)
    options = RunOptions(results_dir=tmp_path / "results", splits=SplitConfig(1, 0, 0.25), device="cpu",
                         overrides=smoke)
    [outcome] = run_benchmark([name], contract_data, options, LocalExecutor())
    assert outcome.status == "done", outcome.message

    out = tmp_path / "results" / "contract" / name
    manifest = RunManifest.read(out)
    assert {k: manifest.config[k] for k in smoke} == smoke  # the run used, and recorded, the smoke config
    written = read_predictions(out / "split_0.csv")
    assert list(written.columns) == ["image", "group", "target", "mos", "pred"]
    targets = [t for t in contract_data.targets if target_kind(t) in info.targets]
    assert list(written["target"].unique()) == targets and targets
    splits = load_splits(tmp_path / "results" / "contract" / "splits.csv", 1)
    test_side = contract_data.frame[contract_data.frame["image"].isin(splits.loc[splits["split_0"] == "test", "image"])]
    truth = test_side.set_index("image")
    for target, part in written.groupby("target"):
        assert sorted(part["image"]) == sorted(test_side["image"])
        assert np.isfinite(part["pred"]).all()
        np.testing.assert_allclose(part["mos"], truth.loc[part["image"], target])

    summary = tables.summarise_splits(split_metrics(load_results(tmp_path / "results")))
    rendered = "\n".join(tables.render(summary, table=t) for t in (1, 2))
    assert f"| {manifest.label} " in rendered  # a row under its display name, "[random init]" if so

    checkpoint = out / "checkpoints" / "split_0.pt"
    assert checkpoint.exists() == info.trains  # what `score --checkpoint` needs of a trained method
    if checkpoint.exists():  # a restored method predicts what the run wrote
        restored = create_method(name, **manifest.config).load_checkpoint(checkpoint.read_bytes())
        predicted = _predict(restored, test_side)
        for target, part in written.groupby("target"):
            again = predicted[target].set_axis(test_side["image"]).loc[part["image"]]
            np.testing.assert_allclose(again, part["pred"], rtol=1e-4, atol=1e-5)
