"""The method contract as named checks (as scikit-learn's ``utils.estimator_checks``): each
check asserts one property of a registered method and names it when it fails.

The checks that need a fitted method share one run per method and process (``_runs``):
the method at its ``smoke_config()`` (random initialisation where pretrained files are
absent and it has a ``pretrained`` option), fitted and scored on one split of generated
images through the runner, in a temporary folder. Fitting is the expensive part; the run is
made by the first check that needs it.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from bench.assets import get_asset, is_present
from bench.method import FeatureMethod
from bench.registry import create_method, get_method_info
from bench.report import tables
from bench.results.loading import load_results, split_metrics
from bench.results.manifest import RunManifest
from bench.results.store import read_predictions
from bench.run.executors import LocalExecutor
from bench.run.runner import RunOptions, run_benchmark
from bench.run.tasks import INPUT_COLUMNS
from bench.splits import SplitConfig, load_splits
from bench.targets import TARGET_COLUMN_KINDS, target_kind
from bench.testing.images import contract_dataset, write_contract_frame

RESULTS_COLUMNS = ["image", "group", "target", "mos", "pred"]
# What a constructor may store: the config's plain values, never a built model or loaded file.
PLAIN_VALUES = (type(None), bool, int, float, str, tuple, list, dict, PurePath)


class CheckSkipped(Exception):
    """A check that cannot run here (e.g. pretrained files absent and no random initialisation)."""


@dataclass
class ContractRun:
    """One method's run on the generated split, shared by the checks that need it."""

    name: str
    config: dict
    results: Path  # the results folder of the run
    dataset_targets: tuple[str, ...]
    frame: pd.DataFrame  # the generated images with every target column
    status: str = ""
    message: str = ""
    predict_columns: list[list[str]] = field(default_factory=list)  # columns of each frame predict saw
    target_reads: list[str] = field(default_factory=list)  # target columns predict asked for

    @property
    def out(self) -> Path:
        return self.results / "contract" / self.name


_runs: dict[str, ContractRun | CheckSkipped] = {}
_workdir: tempfile.TemporaryDirectory | None = None


def clear_cache() -> None:
    """Forget the shared runs (the next check that needs one runs the method again)."""
    _runs.clear()


def _folder(name: str) -> Path:
    global _workdir
    if _workdir is None:
        _workdir = tempfile.TemporaryDirectory(prefix="ipiqa-contract-")  # removed at exit
    return Path(tempfile.mkdtemp(prefix=name.replace(":", "_").replace("/", "_") + "-", dir=_workdir.name))


@functools.lru_cache(maxsize=1)
def _contract_frame() -> pd.DataFrame:
    return write_contract_frame(_folder("images"))


def _absent(name: str, config: dict) -> list[str]:
    return [a for a in create_method(name, **config).required_assets() if not is_present(a)]


def runnable_config(name: str) -> dict:
    """The smoke config, at random init where pretrained files are absent; CheckSkipped if
    the method needs absent files whatever its initialisation."""
    config = get_method_info(name).cls.smoke_config()
    absent = _absent(name, config)
    if absent and "pretrained" in create_method(name, **config).get_config():
        config = {**config, "pretrained": False}
        absent = _absent(name, config)
    if absent:
        raise CheckSkipped(f"{name}: needs {', '.join(get_asset(a).filename for a in absent)} (absent) and "
                           "its random initialisation does not do without them")
    return config


def _recording_predict(cls: type, run: ContractRun) -> Callable:
    """``cls.predict`` wrapped to record the columns of every frame it is handed, and the
    target columns it asks for (a KeyError naming them)."""
    original = cls.predict

    def predict(self, frame):
        run.predict_columns.append([str(c) for c in frame.columns])
        try:
            return original(self, frame)
        except KeyError as exc:  # pandas names the missing labels quoted, alone or in an Index
            run.target_reads += [t for t in TARGET_COLUMN_KINDS if f"'{t}'" in str(exc)]
            raise
    return predict


def _run(run: ContractRun, cls: type) -> None:
    options = RunOptions(results_dir=run.results, splits=SplitConfig(1, 0, 0.25), device="cpu", overrides=run.config)
    dataset = contract_dataset(run.frame, get_method_info(run.name).targets)
    own = cls.__dict__.get("predict")
    cls.predict = _recording_predict(cls, run)
    try:
        [outcome] = run_benchmark([run.name], dataset, options, LocalExecutor())
    finally:
        if own is None:
            del cls.predict
        else:
            cls.predict = own
    run.status, run.message = outcome.status, outcome.message


def contract_run(name: str) -> ContractRun:
    """The method's shared run (made on first use), CheckSkipped if it cannot run here."""
    if name not in _runs:
        try:
            config = runnable_config(name)
        except CheckSkipped as skip:
            _runs[name] = skip
        else:
            info = get_method_info(name)
            frame = _contract_frame()
            run = ContractRun(name, config, _folder(name) / "results", contract_dataset(frame, info.targets).targets,
                              frame)
            _runs[name] = run
            _run(run, info.cls)
    found = _runs[name]
    if isinstance(found, CheckSkipped):
        raise found
    return found


def _done_run(name: str) -> ContractRun:
    run = contract_run(name)
    assert run.status == "done", f"the run through the runner did not finish ({run.status}): {run.message}"
    return run


def _test_side(run: ContractRun) -> pd.DataFrame:
    splits = load_splits(run.results / "contract" / "splits.csv", 1)
    return run.frame[run.frame["image"].isin(splits.loc[splits["split_0"] == "test", "image"])]


# --- the checks: one property each -------------------------------------------------------

def check_construction(name: str) -> None:
    """Built from its smoke config, under its registered name; the constructor stores its
    arguments as plain values (no model built, no file read, no fitted state)."""
    info = get_method_info(name)
    method = create_method(name, **info.cls.smoke_config())  # every smoke key is a constructor argument
    assert method.method_name == name, f"method_name is {method.method_name!r}"
    unstored = [k for k in method.config_keys() if not hasattr(method, k)]
    assert not unstored, f"constructor arguments not stored under their own names: {unstored}"
    built = {k: type(v).__name__ for k, v in vars(method).items() if not isinstance(v, PLAIN_VALUES)}
    assert not built, f"__init__ does work: it stores {built} (build models in fit or on first use)"
    fitted = [k for k in vars(method) if k.endswith("_") and not k.startswith("__")]
    assert not fitted, f"__init__ sets fitted state {fitted}"


def check_clone_from_config(name: str) -> None:
    """``get_config()`` rebuilds the method: the clone's config is the same."""
    config = create_method(name, **get_method_info(name).cls.smoke_config()).get_config()
    assert create_method(name, **config).get_config() == config, "the config does not rebuild the method"


def check_declared_assets(name: str) -> None:
    """Every declared asset is in the asset table; no configuration needs an undeclared one."""
    info = get_method_info(name)
    unknown = []
    for asset in info.assets:
        try:
            get_asset(asset)
        except KeyError:
            unknown.append(asset)
    assert not unknown, f"declared assets not in the asset table: {unknown}"
    needed = set(create_method(name).required_assets()) - set(info.assets)
    assert not needed, f"needs undeclared assets {sorted(needed)}"


def check_fit_predict(name: str) -> None:
    """A one-split run through the runner finishes, records the config it ran with and
    writes the results layout."""
    run = _done_run(name)
    manifest = RunManifest.read(run.out)
    recorded = {k: manifest.config.get(k) for k in run.config}
    assert recorded == run.config, f"the run recorded config {recorded}, not the smoke config {run.config}"
    written = read_predictions(run.out / "split_0.csv")
    assert list(written.columns) == RESULTS_COLUMNS, f"split_0.csv columns are {list(written.columns)}"


def check_targets_and_columns(name: str) -> None:
    """Predictions for exactly the targets of the kinds it declares, for every test image,
    finite, beside the true scores."""
    run = _done_run(name)
    info = get_method_info(name)
    written = read_predictions(run.out / "split_0.csv")
    targets = [t for t in run.dataset_targets if target_kind(t) in info.targets]
    assert targets, f"it declares kinds {info.targets}, which no target column of the run has"
    assert list(written["target"].unique()) == targets, \
        f"predicted targets {list(written['target'].unique())}, declared {targets}"
    test_side = _test_side(run)
    truth = test_side.set_index("image")
    for target, part in written.groupby("target"):
        assert sorted(part["image"]) == sorted(test_side["image"]), f"{target}: not one prediction per test image"
        assert np.isfinite(part["pred"]).all(), f"{target}: non-finite predictions"
        np.testing.assert_allclose(part["mos"], truth.loc[part["image"], target],
                                   err_msg=f"{target}: the mos column is not the image's true score")


def check_table_row(name: str) -> None:
    """The tables show a row under its display name ("[random init]" if so)."""
    run = _done_run(name)
    label = RunManifest.read(run.out).label
    summary = tables.summarise_splits(split_metrics(load_results(run.results)))
    rendered = "\n".join(tables.render(summary, table=t) for t in (1, 2))
    assert f"| {label} " in rendered, f"no row {label!r} in Tables 1-2"


def _predict(method, frame: pd.DataFrame) -> pd.DataFrame:
    """Predictions of a restored method, by the path ``ipiqa-bench score`` takes."""
    if isinstance(method, FeatureMethod):
        X = method.features_of_rows(frame["path"].tolist(), frame["prompt"].tolist())
        return pd.DataFrame(method.predict_features(X), index=frame.index)
    return method.predict(frame[list(INPUT_COLUMNS)])


def check_checkpoint_round_trip(name: str) -> None:
    """A trained method writes a checkpoint (a training-free one none); restored with
    ``load_checkpoint``, it predicts what the run wrote."""
    run = _done_run(name)
    info = get_method_info(name)
    checkpoint = run.out / "checkpoints" / "split_0.pt"
    assert checkpoint.exists() == info.trains, \
        f"trains={info.trains} but a checkpoint was{'' if checkpoint.exists() else ' not'} written"
    if not checkpoint.exists():
        return
    manifest = RunManifest.read(run.out)
    restored = create_method(name, **manifest.config).load_checkpoint(checkpoint.read_bytes())
    test_side = _test_side(run)
    predicted = _predict(restored, test_side)
    for target, part in read_predictions(run.out / "split_0.csv").groupby("target"):
        again = predicted[target].set_axis(test_side["image"]).loc[part["image"]]
        np.testing.assert_allclose(again, part["pred"], rtol=1e-4, atol=1e-5,
                                   err_msg=f"{target}: the restored method predicts otherwise")


def check_predict_never_sees_targets(name: str) -> None:
    """``predict`` is handed no target column and asks for none; it predicts without them
    (a FeatureMethod predicts from features only)."""
    run = contract_run(name)
    assert not run.target_reads, f"predict asked for target columns {sorted(set(run.target_reads))}"
    seen = sorted({c for columns in run.predict_columns for c in columns if c in TARGET_COLUMN_KINDS})
    assert not seen, f"predict was handed target columns {seen}"
    assert run.status == "done", f"the run did not finish ({run.status}): {run.message}"
    if not isinstance(create_method(name, **run.config), FeatureMethod):
        assert run.predict_columns, "predict was never called"


CHECKS: tuple[Callable[[str], None], ...] = (
    check_construction, check_clone_from_config, check_declared_assets, check_fit_predict,
    check_targets_and_columns, check_table_row, check_checkpoint_round_trip, check_predict_never_sees_targets,
)
# The checks that need the shared run (slow for a slow method, skipped where it cannot run).
RUN_CHECKS = frozenset({check_fit_predict, check_targets_and_columns, check_table_row,
                        check_checkpoint_round_trip, check_predict_never_sees_targets})


def check_name(check: Callable) -> str:
    return check.__name__.removeprefix("check_")


def needs_run(check_name_: str) -> bool:
    return any(check_name(c) == check_name_ for c in RUN_CHECKS)


def method_checks(name: str) -> Iterator[tuple[str, Callable[[], None]]]:
    """``(check_name, check)`` for every property of the contract; ``check()`` raises
    AssertionError naming what is wrong, or CheckSkipped."""
    get_method_info(name)  # an unknown name fails here, not in every check
    for check in CHECKS:
        yield check_name(check), functools.partial(check, name)


def check_method(name: str) -> dict[str, str]:
    """Run every check on method ``name``: {check: "passed" or "skipped: why"}; raises
    AssertionError naming the method and each failing check."""
    states, failures = {}, []
    for check, run_check in method_checks(name):
        try:
            run_check()
        except CheckSkipped as skip:
            states[check] = f"skipped: {skip}"
        except Exception as exc:  # every check runs; each failure is reported
            failures.append(f"{name}: check {check} failed: {type(exc).__name__}: {exc}")
        else:
            states[check] = "passed"
    if failures:
        raise AssertionError("\n".join(failures))
    return states
