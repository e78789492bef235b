"""Is a gap between two methods real? Paired tests over the shared splits, and intervals.

For every pair of methods evaluated on the same dataset, target and splits:

* **Wilcoxon signed-rank** over the per-split SRCC pairs (two-sided, ``scipy.stats.wilcoxon``;
  exact null distribution for 10 splits without ties, so its smallest p is 2/1024). Identical
  methods (every difference zero) get p = 1 by definition: scipy warns and the statistic
  is undefined there.
* **Nadeau–Bengio corrected t-test** over the same differences: repeated random splits
  share training images, so the per-split values are correlated and the naive tests are
  optimistic; the correction inflates the variance by ``1/n + n_test/n_train``.
* **Paired bootstrap over test images**: within each split, test images are resampled with
  replacement, the same draw for both methods (they share their test images), and the mean
  over splits of the SRCC difference gives a 95% percentile interval. It measures how much
  the gap depends on which test images were drawn, for fixed predictions.

``confidence_intervals`` gives the 95% interval of a mean over splits that ``table --ci``
prints: a Student t-interval over the split values (mean ± t(0.975, n−1)·s/√n). It treats
the splits as independent, which they are not (see above), so read it as a lower bound on
the uncertainty.

Pairs whose test images differ on a shared split are refused, never compared.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from bench.report.figures import unique_labels
from bench.results.loading import MethodResults
from bench.results.metrics import TABLE_METRICS

LEVEL = 0.95
DEFAULT_RESAMPLES = 1000


def wilcoxon_p(a, b) -> float:
    """Two-sided paired Wilcoxon signed-rank p over per-split values (NaN pairs dropped)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    differences = a[keep] - b[keep]
    if len(differences) == 0:
        return float("nan")
    if np.all(differences == 0):
        return 1.0  # identical: no evidence of any difference
    return float(stats.wilcoxon(differences).pvalue)


def smallest_wilcoxon_p(n_splits: int) -> float:
    """The smallest two-sided exact Wilcoxon p over ``n_splits`` pairs: every difference of
    one sign, probability 2 / 2^n (0.25 with 3 splits, 2/1024 with 10)."""
    return min(1.0, 2.0 / 2 ** n_splits) if n_splits > 0 else float("nan")


def corrected_t_p(a, b, test_fraction: float) -> float:
    """Two-sided p of the Nadeau–Bengio (2003) corrected resampled t-test."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    differences = a[keep] - b[keep]
    n = len(differences)
    if n < 2:
        return float("nan")
    variance = differences.var(ddof=1) * (1 / n + test_fraction / (1 - test_fraction))
    if variance == 0:
        return 1.0 if differences.mean() == 0 else 0.0
    t = differences.mean() / np.sqrt(variance)
    return float(2 * stats.t.sf(abs(t), df=n - 1))


def t_interval(mean: float, std: float, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Student t-interval of a mean over ``n`` split values (NaN for fewer than 2)."""
    if n < 2 or not np.isfinite(mean) or not np.isfinite(std):
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, df=n - 1) * std / np.sqrt(n)
    return mean - half, mean + half


def confidence_intervals(summary: pd.DataFrame, metrics=None) -> pd.DataFrame:
    """``summary`` (bench.report.tables.summarise_splits) with ``<metric>_ci_low/high`` columns
    (default: for every metric the tables show)."""
    out = summary.copy()
    for metric in TABLE_METRICS if metrics is None else metrics:
        bounds = [t_interval(m, s, n) for m, s, n in
                  zip(out[f"{metric}_mean"], out[f"{metric}_std"], out["n_splits"])]
        out[f"{metric}_ci_low"] = [lo for lo, _ in bounds]
        out[f"{metric}_ci_high"] = [hi for _, hi in bounds]
    return out


def resampled_srcc(preds: np.ndarray, mos: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """SRCC of every row of ``preds`` (methods × images) against ``mos`` on every resample
    (rows of ``indices``): methods × resamples. Resampling repeats images, so ties get
    average ranks, as in ``scipy.stats.spearmanr``."""
    mos_ranks = _centred_ranks(mos[indices])
    mos_norm = (mos_ranks ** 2).sum(axis=1)
    out = np.empty((len(preds), len(indices)))
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant resample gives NaN
        for i, pred in enumerate(preds):
            ranks = _centred_ranks(pred[indices])
            out[i] = (ranks * mos_ranks).sum(axis=1) / np.sqrt((ranks ** 2).sum(axis=1) * mos_norm)
    return out


def _centred_ranks(values: np.ndarray) -> np.ndarray:
    ranks = stats.rankdata(values, axis=1)
    return ranks - ranks.mean(axis=1, keepdims=True)


@dataclass
class Comparison:
    """Every compared pair (one row each) and the pairs refused, with the reason."""

    pairs: pd.DataFrame
    refused: list[str] = field(default_factory=list)


PAIR_COLUMNS = ("dataset", "target", "method_a", "method_b", "label_a", "label_b", "n_splits",
                "srcc_a", "srcc_b", "delta_srcc", "wilcoxon_p", "corrected_t_p", "ci_low", "ci_high")


def compare_methods(results: list[MethodResults], per_split: pd.DataFrame,
                    n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> Comparison:
    """Pairwise tests for every dataset and target with at least two methods.

    ``per_split`` is ``bench.results.loading.split_metrics(results)``: the tests use exactly the
    SRCC values the tables average. Method A of each pair has the higher mean SRCC."""
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    rows, refused = [], []
    by_method = {(r.dataset, r.method): r for r in results}
    for (dataset, target), part in per_split.groupby(["dataset", "target"], sort=True):
        srcc = part.pivot(index="split", columns="method", values="srcc")
        for method in srcc.columns[srcc.isna().all()]:
            reasons = "; ".join(sorted(set(part.loc[part["method"] == method, "reason"].dropna()) - {""}))
            refused.append(f"{dataset}/{target}: {method} not compared: no finite SRCC on any split ({reasons})")
        srcc = srcc.dropna(axis=1, how="all")
        order = list(srcc.mean().sort_values(ascending=False).index)
        labels = unique_labels(part["method"], part["label"])
        sides = {m: _test_sides(by_method[dataset, m], target) for m in order}
        boot = _bootstrap(sides, n_resamples, seed)
        for i, a in enumerate(order):
            for b in order[i + 1:]:
                reason = _incomparable(sides[a], sides[b])
                if reason:
                    refused.append(f"{dataset}/{target}: {a} vs {b} not compared: {reason}")
                    continue
                shared = srcc[[a, b]].dropna()
                if shared.empty:
                    refused.append(f"{dataset}/{target}: {a} vs {b} not compared: no split where both have an SRCC")
                    continue
                test_size = by_method[dataset, a].manifest.test_size
                low, high = _difference_interval(boot, a, b, list(shared.index))
                rows.append({
                    "dataset": dataset, "target": target, "method_a": a, "method_b": b,
                    "label_a": labels[a], "label_b": labels[b], "n_splits": len(shared),
                    "srcc_a": shared[a].mean(), "srcc_b": shared[b].mean(),
                    "delta_srcc": (shared[a] - shared[b]).mean(),
                    "wilcoxon_p": wilcoxon_p(shared[a], shared[b]),
                    "corrected_t_p": corrected_t_p(shared[a], shared[b], test_size),
                    "ci_low": low, "ci_high": high,
                })
    return Comparison(pd.DataFrame(rows, columns=list(PAIR_COLUMNS)), refused)


def _test_sides(result: MethodResults, target: str) -> dict[int, pd.DataFrame]:
    """Per split: the target's test images sorted by name, with sign-adjusted predictions."""
    sign = result.manifest.sign
    out = {}
    for k, frame in result.predictions.items():
        part = frame[frame["target"] == target].sort_values("image", kind="stable")
        out[k] = pd.DataFrame({"image": part["image"].to_numpy(), "mos": part["mos"].to_numpy(float),
                               "pred": sign * part["pred"].to_numpy(float)})
    return out


def _incomparable(a: dict[int, pd.DataFrame], b: dict[int, pd.DataFrame]) -> str:
    shared = sorted(set(a) & set(b))
    if not shared:
        return "no split in common"
    for k in shared:
        if not np.array_equal(a[k]["image"], b[k]["image"]):
            return (f"different test images in split {k} ({len(a[k])} vs {len(b[k])} images); "
                    "rerun both on the same dataset and splits file")
        if not np.allclose(a[k]["mos"], b[k]["mos"], equal_nan=True):
            return f"different MOS for the same test images in split {k}"
    return ""


def _bootstrap(sides: dict[str, dict[int, pd.DataFrame]], n_resamples: int, seed: int) -> dict:
    """(method, split) -> resampled SRCCs. Methods with the same test images in a split
    share one draw of indices, which makes their differences paired."""
    out = {}
    splits = sorted({k for per_method in sides.values() for k in per_method})
    for k in splits:
        groups: dict[tuple, list[str]] = {}
        for method, per_method in sides.items():
            if k in per_method and len(per_method[k]):
                groups.setdefault(tuple(per_method[k]["image"]), []).append(method)
        for members in groups.values():
            first = sides[members[0]][k]
            indices = np.random.default_rng([seed, k]).integers(0, len(first), (n_resamples, len(first)))
            preds = np.stack([sides[m][k]["pred"].to_numpy() for m in members])
            for method, values in zip(members, resampled_srcc(preds, first["mos"].to_numpy(), indices)):
                out[method, k] = values
    return out


def _difference_interval(boot: dict, a: str, b: str, splits: list[int], level: float = LEVEL):
    if not splits:
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN resamples give NaN, reported as such
        mean_difference = np.nanmean([boot[a, k] - boot[b, k] for k in splits], axis=0)
        low, high = np.nanpercentile(mean_difference, [50 - 50 * level, 50 + 50 * level])
    return float(low), float(high)
