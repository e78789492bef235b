"""What each pyiqa zoo row's released weights were trained on: methods/pyiqa_trained_on.csv.

One row per pyiqa metric: ``trained_on`` (dataset names separated by ";", "unknown" where no
file read says, empty for metrics without trained weights), ``how_known`` and ``source`` (the
pyiqa 0.1.16 config and weight-URL lines that name the data, or "paper" when only the method's
paper says so). Tables mark a row evaluated on a dataset its weights saw.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

TABLE = Path(__file__).with_name("pyiqa_trained_on.csv")
UNKNOWN = ("unknown",)


@lru_cache(maxsize=1)
def _table() -> dict[str, tuple[str, ...]]:
    with TABLE.open(newline="", encoding="utf-8") as handle:
        return {row["metric"]: tuple(n for n in row["trained_on"].split(";") if n) for row in csv.DictReader(handle)}


def pyiqa_trained_on(metric: str) -> tuple[str, ...]:
    """The datasets ``metric``'s weights were trained on; "unknown" for a metric not in the table
    (a newer pyiqa's), so that its results are not shown as clean."""
    return _table().get(metric, UNKNOWN)
