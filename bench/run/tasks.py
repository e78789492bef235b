"""Units of work, as pure functions of their arguments.

Executors (in-process, a process pool, Ray) run these anywhere and return data; only the
driver writes results and cache entries, so the atomic-write and resume guarantees hold
whatever runs the work.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.datasets.base import REQUIRED_COLUMNS
from bench.errors import BenchError
from bench.method import FeatureMethod
from bench.registry import create_method
from bench.results.cost import compute_threads, peak_memory, reset_peak
from bench.run.allocator import freed_memory_kept
from bench.train.epoch_state import epoch_states

# What ``predict`` sees: never a target. ``fit`` sees these and the run's targets.
INPUT_COLUMNS = REQUIRED_COLUMNS


class FeatureError(BenchError):
    """A feature extractor failed on one image: the message names it."""


@contextmanager
def stage(name: str):
    """Note on an exception raised inside it the stage it was raised in (``fit (split 0)``), for
    the one line that reports a failure; an inner stage already noted is kept."""
    try:
        yield
    except Exception as exc:
        if not getattr(exc, "stage", ""):
            exc.stage = name
        raise


@dataclass
class FeatureChunk:
    """A chunk's feature rows, and the threads of the process that computed them (a pool
    worker's differ from the driver's: bench.run.executors gives each one torch thread)."""

    features: np.ndarray
    threads: dict


def extract_features(method: str, config: dict, paths: list[str], prompts: list[str]) -> FeatureChunk:
    """Feature rows of a chunk of images."""
    with stage("features"), freed_memory_kept():  # image-sized temporaries reuse memory, not fresh pages
        features = features_naming_the_image(create_method(method, **config), paths, prompts)
    return FeatureChunk(features, compute_threads())


def features_naming_the_image(instance: FeatureMethod, paths: list[str], prompts: list[str]) -> np.ndarray:
    """``instance.features_of_rows``; when the chunk fails, its images are tried one by one
    so that the error names the image that fails (a batch error names none)."""
    method = instance.method_name
    try:
        return instance.features_of_rows(paths, prompts)
    except BenchError:
        raise  # already names its file (e.g. an unreadable image)
    except Exception as exc:
        failure = exc
    for path, prompt in zip(paths, prompts) if len(paths) > 1 else ():
        try:
            instance.features_of_rows([path], [prompt])
        except BenchError:
            raise
        except Exception as exc:
            failure, paths = exc, [path]
            break
    where = f"image {paths[0]}" if len(paths) == 1 else f"one of {len(paths)} images from {paths[0]}"
    message = str(failure).splitlines()[0] if str(failure) else ""
    raise FeatureError(f"{type(failure).__name__}: {message} ({method} on {where})") from failure


@dataclass
class SplitTask:
    method: str
    config: dict
    split: int
    targets: list[str]
    train: pd.DataFrame  # INPUT_COLUMNS and the targets
    test: pd.DataFrame  # the same; its targets are for scoring (and best-on-test), not for predict
    X_train: np.ndarray | None = None  # feature methods: rows aligned with train/test
    X_test: np.ndarray | None = None
    state_dir: str | None = None  # where a trainable method keeps its epoch state (bench.train.epoch_state)


@dataclass
class SplitOutcome:
    split: int
    predictions: pd.DataFrame  # the results layout: image, group, target, mos, pred
    fit_s: float
    predict_s: float
    checkpoint: bytes | None = None
    report: dict = field(default_factory=dict)
    peak: dict = field(default_factory=dict)  # peak memory of the process that ran it


def fit_predict(task: SplitTask) -> SplitOutcome:
    if threading.current_thread() is threading.main_thread():
        reset_peak()  # not from a fit thread: the peak is the process's, and others' splits run in it
    where = f"(split {task.split})"
    with stage(f"setup {where}"):
        method = create_method(task.method, **task.config)
    start = time.perf_counter()
    if isinstance(method, FeatureMethod):
        with stage(f"fit {where}"):
            Y = {t: task.train[t].to_numpy(dtype=float) for t in task.targets}
            method.fit_features(task.X_train, Y, task.train["group"].to_numpy())
        fitted = time.perf_counter()
        with stage(f"predict {where}"):
            predicted = pd.DataFrame(method.predict_features(task.X_test), index=task.test.index)
    else:
        # The test side goes to training only to choose the epoch on it (best-on-test, labelled
        # so) or to record each epoch's test metrics, which choose nothing (bench.train.epoch_metrics).
        extra = {"test": task.test} if getattr(method, "takes_test_side", False) else {}
        with stage(f"fit {where}"), epoch_states(task.state_dir):
            method.fit(task.train, task.targets, **extra)
        fitted = time.perf_counter()
        with stage(f"predict {where}"):
            predicted = method.predict(task.test[list(INPUT_COLUMNS)])
    done = time.perf_counter()
    with stage(f"predict {where}"):
        predictions = long_predictions(task.test, predicted, task.targets)
    with stage(f"checkpoint {where}"):
        checkpoint = method.checkpoint()
    return SplitOutcome(
        split=task.split,
        predictions=predictions,
        fit_s=fitted - start,
        predict_s=done - fitted,
        checkpoint=checkpoint,
        report=dict(getattr(method, "report_", {})),
        peak=peak_memory(),
    )


def long_predictions(test: pd.DataFrame, predicted: pd.DataFrame, targets: list[str]) -> pd.DataFrame:
    missing = [t for t in targets if t not in predicted.columns]
    if missing:
        raise RuntimeError(f"method returned no predictions for {missing}")
    parts = [
        pd.DataFrame({
            "image": test["image"].values,
            "group": test["group"].values,
            "target": target,
            "mos": test[target].values,
            "pred": predicted[target].reindex(test.index).values,
        })
        for target in targets
    ]
    return pd.concat(parts, ignore_index=True)
