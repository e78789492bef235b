"""Every epoch's test metrics, recorded beside the epoch the run chose: the selection gap.

A run keeps the epoch its selection policy picks (``final``, ``val`` or ``best-on-test``,
bench.train.config.SELECTIONS). Recording what each epoch scored on the test side then
gives the three figures of one training: the last epoch, the honest choice and the one an
oracle would have picked on the test set (``table --selection-gap``). The record is only
read after training: the loop restores every random state after the test pass, so the
chosen epoch and the predictions are those of a run that records nothing
(tests/test_training.py checks it).

``record_epoch_metrics``: ``auto`` records when an epoch's test pass is cheap beside the
epoch itself (test side at most half the training side), ``on`` always, ``off`` never. A run
that does not record says why in its report.
"""

from __future__ import annotations

import numpy as np

from bench.results.metrics import evaluate
from bench.train.config import TrainConfig

RECORD_CHOICES = ("auto", "on", "off")
# An epoch's test pass costs about n_test / (3 n_train) of the epoch (inference, no backward);
# at half the training side that is ~15 % more time.
CHEAP_SHARE = 0.5
EPOCH_METRICS = ("srcc", "krcc", "plcc_raw", "plcc_logistic")


def recording_decision(config: TrainConfig, n_train: int, n_test: int | None) -> str:
    """"" when the run records every epoch's test metrics, else the reason it does not."""
    if config.record_epoch_metrics == "off":
        return "record_epoch_metrics is off"
    if n_test is None:
        return "the test side was not handed to training"
    if config.record_epoch_metrics == "auto" and n_test > CHEAP_SHARE * n_train:
        return (f"the test side ({n_test} images) is more than {CHEAP_SHARE:g} of the training side ({n_train}): "
                f"a test pass every epoch would not be cheap (record_epoch_metrics on records it anyway)")
    return ""


def epoch_scores(pred: np.ndarray, truth: np.ndarray, targets: list[str]) -> dict:
    """target -> {metric: value} for one epoch's test predictions (columns in ``targets`` order)."""
    out = {}
    for j, target in enumerate(targets):
        metrics = evaluate(pred[:, j], truth[:, j])
        out[target] = {m: round(float(metrics[m]), 6) for m in EPOCH_METRICS}
    return out
