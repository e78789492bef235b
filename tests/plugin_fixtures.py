"""Test-only methods and a dataset, registered through $IPIQA_BENCH_PLUGINS so that
subprocess runs of the CLI see them too."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from bench.datasets import Dataset, register_dataset
from bench.method import Method, ScoreMethod
from bench.registry import register_method
from methods._svr import SVRFeatureMethod


def sharpness(image: np.ndarray) -> np.ndarray:
    gray = image.astype(float).mean(axis=2)
    lap = ndimage.laplace(gray)
    grad = np.hypot(ndimage.sobel(gray, 0), ndimage.sobel(gray, 1))
    return np.array([lap.var(), np.abs(lap).mean(), grad.mean(), grad.std()])


@register_method("test-sharpness-svr", family="svr", trains=True)
class SharpnessSVR(SVRFeatureMethod):
    """Laplacian and gradient statistics + SVR (tests only)."""

    def features(self, image, prompt):
        with open(os.environ.get("TEST_FEATURE_LOG", os.devnull), "a") as log:  # lets tests count feature computations
            log.write("x\n")
        time.sleep(float(os.environ.get("TEST_FEATURE_SLEEP", "0")))
        return sharpness(image)


@register_method("test-lap-var", family="handcrafted")
class LaplacianVariance(ScoreMethod):
    """Laplacian variance, a training-free sharpness score (tests only)."""

    def score(self, image, prompt):
        meet_other_workers(os.environ.get("TEST_WORKER_MEETING"))
        return float(sharpness(image)[0])


def meet_other_workers(folder: str | None, parties: int = 2, timeout: float = 60.0) -> None:
    """With ``folder`` (tests only): this process signs in there (a file named by its pid)
    and waits until ``parties`` processes have, so that a pool of that many workers cannot
    leave one of them idle; the files say which processes computed."""
    if not folder:
        return
    Path(folder, str(os.getpid())).touch()
    deadline = time.monotonic() + timeout
    while len(os.listdir(folder)) < parties and time.monotonic() < deadline:
        time.sleep(0.01)


@register_method("test-broken", family="handcrafted")
class Broken(ScoreMethod):
    """Always fails (tests only)."""

    contract_xfail = "fails on every image, on purpose"

    def score(self, image, prompt):
        raise RuntimeError("broken on purpose")


@register_method("test-constant", family="handcrafted")
class Constant(ScoreMethod):
    """Constant score (tests only)."""

    def score(self, image, prompt):
        return 1.0


@register_method("test-saw-tinyfiles", family="handcrafted", trained_on=("TinyFiles", "koniq10k"))
class SawTinyfiles(LaplacianVariance):
    """Declares weights trained on the test dataset, for the contamination mark (tests only)."""


@register_method("test-prompt-length", family="alignment", uses_prompt=True, targets=("alignment", "mos"))
class PromptLength(ScoreMethod):
    """The prompt's length, a prompt-aware score (tests only)."""

    def score(self, image, prompt):
        return float(len(prompt))


@register_method("test-peeking", family="handcrafted")
class Peeking(Method):
    """Predicts the MOS if predict is handed the targets (tests only): it must not be."""

    contract_xfail = "fails unless predict sees the targets, which it never does"

    def fit(self, train, targets):
        self.targets_, self.fit_columns_ = list(targets), sorted(train.columns)
        return self

    def predict(self, frame):
        if set(self.targets_) <= set(frame.columns):
            return frame[self.targets_]
        raise RuntimeError(f"predict saw {sorted(frame.columns)}; fit saw {self.fit_columns_}")


@register_dataset("tinyfiles", "images under $TEST_TINY_ROOT", needs_root=False)
def load_tinyfiles(root=None):
    import pandas as pd

    base = Path(root or os.environ["TEST_TINY_ROOT"])
    frame = pd.read_csv(base / "labels.csv", dtype={"group": str})
    frame["path"] = [str(base / name) for name in frame["image"]]
    return Dataset("tinyfiles", frame, ("mos",), base)


@register_dataset("rooted", "a dataset that needs --root (tests only)")
def load_rooted(root):
    return load_tinyfiles(root)


# Executor fault tests (tests/test_ray_executor.py): with a `death_marker` path in their
# config these end the process that runs them, as a killed worker would; without one (the
# default, so that no other test can kill pytest) they are ordinary methods.
@register_method("test-dies-once-svr", family="svr", trains=True)
class DiesOnceSVR(SharpnessSVR):
    """Kills its own process on the first fit that finds no `death_marker` file (tests only)."""

    def __init__(self, death_marker=""):
        super().__init__()  # the SVR defaults, as test-sharpness-svr
        self.death_marker = death_marker

    def fit_features(self, X, Y, groups):
        if self.death_marker:
            try:
                fd = os.open(self.death_marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                os._exit(1)
        return super().fit_features(X, Y, groups)


@register_method("test-gated-svr", family="svr", trains=True)
class GatedSVR(SharpnessSVR):
    """With a `gate` folder, the first fit runs and every later one waits until the test
    creates `<gate>/open` (tests only): a run interrupted meanwhile has exactly one split."""

    def __init__(self, gate=""):
        super().__init__()
        self.gate = gate

    def fit_features(self, X, Y, groups):
        if self.gate:
            try:
                os.close(os.open(Path(self.gate) / "first", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                deadline = time.monotonic() + 300  # a bound, so a broken test cannot hang forever
                while not (Path(self.gate) / "open").exists() and time.monotonic() < deadline:
                    time.sleep(0.02)
        return super().fit_features(X, Y, groups)


@register_method("test-dies-always", family="handcrafted")
class DiesAlways(ScoreMethod):
    """Kills its own process on every image when given a `death_marker` (tests only)."""

    def __init__(self, death_marker=""):
        self.death_marker = death_marker

    def score(self, image, prompt):
        if self.death_marker:
            os._exit(1)
        return float(sharpness(image)[0])
