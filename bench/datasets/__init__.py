"""Dataset loaders. Each returns a ``Dataset``: one row per image with its path, prompt,
content group and targets. Loaders register by name, so adding a dataset is one module."""

from bench.datasets.base import Dataset, Problem, dataset_names, register_dataset
from bench.datasets.loading import load_dataset

__all__ = ["Dataset", "Problem", "dataset_names", "load_dataset", "register_dataset"]
