"""Every epoch's test metrics, recorded beside the epoch the run chose: the selection gap.

A run keeps the epoch its selection policy picks (``final``, ``val`` or ``best-on-test``,
bench.train.config.SELECTIONS). Recording what each epoch scored on the test side then
gives the three figures of one training: the last epoch, the honest choice and the one an
oracle would have picked on the test set (``table --selection-gap``). The record is only
read after training: the loop restores every random state after the test pass, so the
chosen epoch and the predictions are those of a run that records nothing
(tests/test_training.py checks it).

``record_epoch_metrics``: ``auto`` records when an epoch's test pass is cheap beside the
epoch itself (its pixels, forward only, at most half of the epoch's training pixels, which go
forward and backward: about 15 % more time), ``on`` always, ``off`` never. A run that does not
record says why in its report.
"""

from __future__ import annotations

import numpy as np

from bench.results.metrics import evaluate
from bench.train.config import TrainConfig

RECORD_CHOICES = ("auto", "on", "off")
# An epoch's test pass costs about (its pixels) / (3 x the epoch's training pixels): inference,
# no backward. At half the training pixels that is ~15 % more time.
CHEAP_SHARE = 0.5
EPOCH_METRICS = ("srcc", "krcc", "plcc_raw", "plcc_logistic")


def recording_decision(config: TrainConfig, n_train: int, n_test: int | None, train_draws: int = 1) -> str:
    """"" when the run records every epoch's test metrics, else the reason it does not.
    ``train_draws``: the crops or patches drawn from each training image an epoch."""
    if config.record_epoch_metrics == "off":
        return "record_epoch_metrics is off"
    if n_test is None:
        return "the test side was not handed to training"
    train_side = config.train_crop or config.image_size
    train_pixels = n_train * train_draws * train_side ** 2
    test_pixels = n_test * config.image_size ** 2
    if config.record_epoch_metrics == "auto" and test_pixels > CHEAP_SHARE * train_pixels:
        return (f"a test pass ({n_test} images at {config.image_size} px) has more than {CHEAP_SHARE:g} of an "
                f"epoch's training pixels ({n_train} x {train_draws} draws at {train_side} px): it would not be "
                "cheap every epoch (record_epoch_metrics on records it anyway)")
    return ""


def epoch_scores(pred: np.ndarray, truth: np.ndarray, targets: list[str]) -> dict:
    """target -> {metric: value} for one epoch's test predictions (columns in ``targets`` order)."""
    out = {}
    for j, target in enumerate(targets):
        metrics = evaluate(pred[:, j], truth[:, j])
        out[target] = {m: round(float(metrics[m]), 6) for m in EPOCH_METRICS}
    return out
