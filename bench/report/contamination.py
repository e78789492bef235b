"""Contamination: a pretrained row evaluated on a dataset its weights were trained on.

Each method declares ``trained_on`` (bench.registry.MethodInfo); a dataset name matches when
the two agree ignoring case and punctuation ("AGIQA-3k" is agiqa3k).
"""

from __future__ import annotations

import re

from bench.errors import BenchError
from bench.registry import get_method_info

UNKNOWN = "unknown"


def _plain(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def contamination_of(method: str, dataset: str) -> str:
    """The dataset ``method``'s weights saw among ``dataset`` ("" when none), or "unknown"
    when the method declares its training data unknown; "" for a method not registered here."""
    try:
        trained_on = get_method_info(method).trained_on
    except BenchError:  # results of a method no installed module registers: nothing declared
        return ""
    seen = [name for name in trained_on if _plain(name) == _plain(dataset)]
    if seen:
        return ", ".join(seen)
    return UNKNOWN if UNKNOWN in trained_on else ""
