"""How a row is compared with the paper's published figures: which rows, and with what sign.

Which rows: a row gets the paper's figure only if its display name is one of the paper's
method names (``paper_tables.csv``). A method that departs from the published one says so
in its display name ("CEIQ (f1)", "SISBLIM (approx.)"), so it never matches and gets no Δ.

Sign (one rule for every row). The harness reports correlations in the working direction:
a lower-is-better method's scores are negated first, so a working method is positive. The
paper does not state its convention and is not consistent: NIQE is -0.549 on AGIQA-1k (the
raw correlation of a lower-is-better score that works) but +0.562 on AGIQA-3k, where every
figure is positive. Hence:

* a negative paper figure is a raw correlation (a magnitude cannot be negative): it is
  put in the working direction by the method's sign. NIQE -0.549 -> +0.549; a
  higher-is-better method's -0.305 (DSIQA on AGIQA-1k) stays -0.305, a real
  anti-correlation;
* a positive paper figure is taken as already in the working direction. For a
  lower-is-better method it could also be a raw correlation of a method that fails, but a
  column where every figure is positive (AGIQA-3k) reports magnitudes.

So for lower-is-better methods the reference is |paper|; for higher-is-better ones it is
the figure as published.
"""

from __future__ import annotations

import math
from importlib import resources

import pandas as pd

SIGN_RULE = ("Paper figures are compared in the harness's working direction (lower-is-better "
             "scores negated, so a working method is positive): a negative paper figure is a raw "
             "correlation and is multiplied by the method's sign (NIQE -0.549 -> +0.549; DSIQA's "
             "-0.305 stays negative), a positive one is taken as it is. Rows whose name departs "
             "from the paper's (e.g. 'CEIQ (f1)', 'SISBLIM (approx.)') get no paper figure.")


def paper_tables() -> pd.DataFrame:
    with resources.files("bench.data").joinpath("paper_tables.csv").open() as f:
        return pd.read_csv(f)


def paper_method_names() -> set[str]:
    """The method names of the paper's Tables 1 and 2; a display name must equal one to get a Δ."""
    return set(paper_tables()["method"])


def paper_reference(paper_value: float, higher_is_better: bool) -> float:
    """The paper's figure in the harness's working direction (see the module docstring)."""
    if paper_value is None or (isinstance(paper_value, float) and math.isnan(paper_value)):
        return float("nan")
    if paper_value < 0:
        return paper_value * (1 if higher_is_better else -1)
    return float(paper_value)


def paper_delta(ours: float, paper_value: float, higher_is_better: bool) -> float:
    """Our working-direction correlation minus the paper's figure in that direction."""
    return ours - paper_reference(paper_value, higher_is_better)
