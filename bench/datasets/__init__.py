"""Dataset loaders. Each returns a ``Dataset``: one row per image with its path, prompt,
content group and targets. Loaders register by name, so adding a dataset is one module."""

from bench.datasets.base import (
    TARGET_COLUMN_KINDS,
    TARGET_KINDS,
    Dataset,
    Problem,
    dataset_names,
    load_dataset,
    register_dataset,
    register_target_column,
    target_kind,
)

__all__ = ["TARGET_COLUMN_KINDS", "TARGET_KINDS", "Dataset", "Problem", "dataset_names", "load_dataset",
           "register_dataset", "register_target_column", "target_kind"]
