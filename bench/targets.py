"""Target columns and the kinds of score they hold: the vocabulary datasets and methods share.

A dataset frame's target column (``mos_quality``) holds one kind of score (``quality``);
a method declares the kinds it predicts (``register_method(targets=...)``), and the runner
pairs them. The built-in columns are registered here; a dataset plugin registers its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.plugins import MappingView, Registry


@dataclass(frozen=True)
class TargetColumn:
    """A target column of dataset frames and the kind of score it holds; methods declare
    the kinds they predict (``register_method(targets=...)``)."""

    name: str  # the frame column, e.g. "mos_quality"
    kind: str  # e.g. "quality"
    description: str = ""


# Dataset plugins (the ``ipiqa_bench.datasets`` entry points) may register columns of their own.
TARGET_COLUMNS: Registry[TargetColumn] = Registry("target column", "ipiqa_bench.datasets")


def register_target_column(name: str, kind: str, description: str = "") -> TargetColumn:
    return TARGET_COLUMNS.register(name, TargetColumn(name, kind, description))


# The columns the built-in datasets share (AIGCIQA2023's correspondence MOS is read as mos_align).
register_target_column("mos_quality", "quality", "perceptual quality MOS")
register_target_column("mos_align", "alignment", "text-to-image alignment MOS")
register_target_column("mos", "mos", "one overall MOS (AGIQA-1k's; the demo's is the mean of the other two)")
# AGIN's three MOS (bench/datasets/agin.py), each a kind of perceptual quality.
register_target_column("mos_naturalness", "quality", "AGIN's overall naturalness MOS")
register_target_column("mos_technical", "quality", "AGIN's technical-quality MOS")
register_target_column("mos_rationality", "quality", "AGIN's rationality MOS (plausible existence, colour, layout...)")


def target_column_kinds() -> dict[str, str]:
    """Target column -> the kind of score it holds, for every registered column."""
    return {c.name: c.kind for c in TARGET_COLUMNS.entries()}


def target_kind(column: str) -> str:
    return TARGET_COLUMNS.get(column).kind


def score_kinds() -> tuple[str, ...]:
    """Every kind of score some registered target column holds, in registration order."""
    return tuple(dict.fromkeys(c.kind for c in TARGET_COLUMNS.entries()))


def is_score_kind(kind: str) -> bool:
    """Whether a registered column holds ``kind`` (plugins are loaded only for an unknown kind)."""
    if any(c.kind == kind for c in TARGET_COLUMNS.registered()):
        return True
    return kind in score_kinds()


TARGET_COLUMN_KINDS = MappingView(target_column_kinds)
