"""Metric definitions: SRCC, KRCC, PLCC (raw and after the 4-parameter logistic) and RMSE.

Sign convention: predictions are multiplied by the method's sign (-1 for lower-is-better
methods such as NIQE) before any metric, so a working method always has positive
correlations. The split files keep the raw predictions; the manifest records the sign.

Every split gets both PLCCs; a table shows one kind and names it:

* ``plcc_raw``: plain Pearson on the (sign-adjusted) predictions, as the official IP-IQA
  code computes it.
* ``plcc_logistic``: after the standard IQA mapping (VQEG), a 4-parameter logistic
      f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2
  fitted by least squares on the evaluated split. The PLCC is the correlation of MOS with
  the fit's *increasing* logistic shape 1 / (1 + exp(-(x - b3) / |b4|)), so it keeps the
  sign of the relation: a fit that runs downhill (b1 < b2) gives a negative PLCC. A fit
  bounded to increase instead (b1 >= b2) degenerates to a near-constant curve on an
  inverse predictor and biases noise upwards, which is why the direction is free and the
  sign kept. The fit starts from both directions and keeps the better, so negating the
  predictions negates the PLCC and noise averages 0.
* ``plcc_logistic_cv`` (kind ``logistic-cv``): the same mapping fitted out of sample, by
  5-fold cross-fitting within the evaluated split: each fold's predictions go through the
  curve fitted on the other four folds, and the PLCC is that of MOS with the out-of-fold
  curve in its increasing form (a downhill fit mirrored about its folds' mean MOS, so the
  sign is kept as above). The
  in-sample fit's four free parameters raise the PLCC of a weak predictor
  (scripts/plcc_inflation.py measures by how much; docs/decisions.md). Computed only when
  asked for (``evaluate(..., cross_fit=True)``): it costs five more fits a split.

RMSE is reported only after the mapping (raw scores and MOS are on different scales).

Metrics are an open registry (bench.plugins): ``register_metric`` adds one, computed on
every split by ``evaluate`` and, if ``in_tables``, shown as a column of the tables; a
third-party module registers through the entry-point group ``ipiqa_bench.metrics``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import optimize, stats

from bench.plugins import NamesView, Registry

MAPPINGS = ("logistic", "none")


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool = True
    in_tables: bool = True  # a mean ± std column of the tables (and of `table --format csv`)
    # ``compute(pred, mos) -> float`` on sign-adjusted predictions of a non-degenerate split;
    # None for the four evaluate() computes itself (PLCC and RMSE share one logistic fit).
    compute: Callable[[np.ndarray, np.ndarray], float] | None = None


METRIC_REGISTRY: Registry[Metric] = Registry("metric", "ipiqa_bench.metrics")
for _name, _higher, _shown in (("srcc", True, True), ("plcc", True, True), ("krcc", True, True),
                               ("rmse", False, False)):
    METRIC_REGISTRY.register(_name, Metric(_name, _higher, _shown))


def register_metric(name: str, *, higher_is_better: bool = True, in_tables: bool = True):
    """Decorator for ``compute(pred, mos) -> float``, registering it as metric ``name``."""

    def decorator(compute):
        METRIC_REGISTRY.register(name, Metric(name, higher_is_better, in_tables, compute))
        return compute

    return decorator


def list_metrics() -> list[Metric]:
    return METRIC_REGISTRY.entries()


# Every metric's name, and those shown in the tables (views: plugin metrics join once registered).
METRICS = NamesView(lambda: [m.name for m in list_metrics()])
TABLE_METRICS = NamesView(lambda: [m.name for m in list_metrics() if m.in_tables])
PLCC_KINDS = ("logistic", "raw", "logistic-cv")
CV_FOLDS = 5
CV_MIN_IMAGES = 4 * CV_FOLDS  # each fit then sees at least 16 points for its 4 parameters


def plcc_column(kind: str) -> str:
    """The column (and ``evaluate`` key) of a PLCC kind: ``logistic-cv`` -> ``plcc_logistic_cv``."""
    if kind not in PLCC_KINDS:
        raise ValueError(f"plcc must be one of {PLCC_KINDS}")
    return "plcc_" + kind.replace("-", "_")


def logistic4(x, b1, b2, b3, b4):
    with np.errstate(over="ignore"):  # exp overflow saturates to the asymptote, as intended
        return (b1 - b2) / (1.0 + np.exp(-(x - b3) / np.abs(b4))) + b2


@dataclass
class LogisticFit:
    mapped: np.ndarray  # f(x): the fitted MOS
    shape: np.ndarray  # the increasing logistic of x that f rescales (f = (b1 - b2) * shape + b2)


def logistic_fit(pred: np.ndarray, mos: np.ndarray) -> LogisticFit | None:
    """The least-squares logistic of ``pred`` to ``mos``, or None if no fit converges."""
    # Standardise first: the fit is then well conditioned whatever the score's scale.
    x = (pred - pred.mean()) / pred.std()
    params = _logistic_params(x, mos)
    return None if params is None else LogisticFit(logistic4(x, *params), _shape(x, params))


def _logistic_params(x: np.ndarray, mos: np.ndarray) -> np.ndarray | None:
    """(b1, b2, b3, b4) of the better of the increasing and decreasing starts, or None."""
    best, best_sse = None, np.inf
    for b1, b2 in ((mos.max(), mos.min()), (mos.min(), mos.max())):  # increasing, decreasing start
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                params, _ = optimize.curve_fit(logistic4, x, mos, p0=[b1, b2, 0.0, 1.0], maxfev=20000)
        except (RuntimeError, TypeError, optimize.OptimizeWarning):  # TypeError: fewer points than parameters
            continue
        mapped = logistic4(x, *params)
        sse = float(np.sum((mapped - mos) ** 2))
        if np.all(np.isfinite(mapped)) and sse < best_sse:
            best, best_sse = params, sse
    return best


def _shape(x: np.ndarray, params) -> np.ndarray:
    """The increasing logistic of ``x`` that the fitted curve rescales."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-(x - params[2]) / np.abs(params[3])))


def cross_fitted_plcc(pred: np.ndarray, mos: np.ndarray, folds: int = CV_FOLDS, seed: int = 0) -> float:
    """PLCC of MOS with the logistic fitted out of fold (see the module docstring); NaN when
    the split is too small or a fold's fit does not converge."""
    pred, mos = np.asarray(pred, float), np.asarray(mos, float)
    if len(pred) < CV_MIN_IMAGES or np.ptp(pred) == 0:
        return float("nan")
    x = (pred - pred.mean()) / pred.std()  # uses no MOS: the same scale for every fold
    fold_of = np.random.default_rng(seed).permutation(len(x)) % folds
    curve = np.empty_like(x)
    for fold in range(folds):
        held = fold_of == fold
        params = _logistic_params(x[~held], mos[~held])
        if params is None:
            return float("nan")
        # The fitted curve, mirrored about the fold's mean MOS where it runs downhill: increasing
        # in x, in MOS units (a near-linear fit has a large amplitude and offset that cancel).
        centre = mos[~held].mean()
        curve[held] = centre + np.sign(params[0] - params[1]) * (logistic4(x[held], *params) - centre)
    return _pearson(curve, mos) if np.ptp(curve) > 0 else float("nan")


def fit_logistic(pred: np.ndarray, mos: np.ndarray) -> np.ndarray | None:
    """Mapped predictions, or None if the fit does not converge."""
    fit = logistic_fit(pred, mos)
    return None if fit is None else fit.mapped


def evaluate(pred, mos, sign: int = 1, mapping: str = "logistic", cross_fit: bool = False) -> dict:
    """All metrics for one split. Degenerate input gives NaNs and a ``reason``, never a crash.

    ``plcc`` is ``plcc_logistic`` (``mapping="logistic"``) or ``plcc_raw`` (``"none"``);
    ``plcc_logistic_cv`` is NaN unless ``cross_fit``."""
    if mapping not in MAPPINGS:
        raise ValueError(f"mapping must be one of {MAPPINGS}")
    pred = sign * np.asarray(pred, dtype=float)
    mos = np.asarray(mos, dtype=float)
    extra = [m for m in list_metrics() if m.compute is not None]
    out = {name: float("nan") for name in (*METRICS, "plcc_raw", "plcc_logistic", "plcc_logistic_cv")}
    out["n"] = int(len(pred))
    reason = _degenerate(pred, mos)
    if reason:
        return {**out, "reason": reason}
    out["srcc"] = float(stats.spearmanr(pred, mos).statistic)
    out["krcc"] = float(stats.kendalltau(pred, mos).statistic)
    out["plcc_raw"] = float(stats.pearsonr(pred, mos).statistic)
    fit = logistic_fit(pred, mos)
    out["reason"] = ""
    if fit is None or np.ptp(fit.shape) == 0:
        out["reason"] = "logistic fit did not converge"
    else:
        out["plcc_logistic"] = _pearson(fit.shape, mos)
        out["rmse"] = float(np.sqrt(np.mean((fit.mapped - mos) ** 2)))
    if cross_fit:
        out["plcc_logistic_cv"] = cross_fitted_plcc(pred, mos)
        if np.isnan(out["plcc_logistic_cv"]) and not out["reason"]:
            out["reason"] = (f"fewer than {CV_MIN_IMAGES} test images for the 5-fold logistic" if len(pred) < CV_MIN_IMAGES
                             else "a fold's logistic fit did not converge")
    out["plcc"] = out["plcc_logistic"] if mapping == "logistic" else out["plcc_raw"]
    for metric in extra:
        out[metric.name] = float(metric.compute(pred, mos))
    return out


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a near-step logistic is nearly constant; still defined
        return float(stats.pearsonr(a, b).statistic)


# Test-side sizes below which a split's metrics are missing or not worth reading.
MIN_TEST_IMAGES = 3  # a correlation over fewer is not computed
LOGISTIC_PARAMETERS = 4
SMALL_TEST_SIDE = 20  # below it a 4-parameter fit has fewer than 16 residual degrees of freedom


def test_side_warning(n_images: int) -> str:
    """Why a split's test side of ``n_images`` is too small for the tables' metrics, or ""."""
    if n_images < MIN_TEST_IMAGES:
        return f"{n_images} test image(s): every metric is n/a (a correlation needs {MIN_TEST_IMAGES})"
    if n_images <= LOGISTIC_PARAMETERS:
        return (f"{n_images} test images: the logistic PLCC is n/a (a {LOGISTIC_PARAMETERS}-parameter fit "
                f"needs more than {LOGISTIC_PARAMETERS} images); SRCC and raw PLCC over {n_images} images")
    if n_images < SMALL_TEST_SIDE:
        return (f"{n_images} test images: the {LOGISTIC_PARAMETERS}-parameter logistic fit has "
                f"{n_images - LOGISTIC_PARAMETERS} residual degrees of freedom and flatters PLCC; "
                "read SRCC or `--plcc raw`")
    return ""


def _degenerate(pred: np.ndarray, mos: np.ndarray) -> str:
    if len(pred) != len(mos):
        return "predictions and MOS differ in length"
    if len(pred) < MIN_TEST_IMAGES:
        return f"fewer than {MIN_TEST_IMAGES} test images"
    if not np.all(np.isfinite(pred)):
        return f"{int((~np.isfinite(pred)).sum())} non-finite predictions"
    if not np.all(np.isfinite(mos)):
        return "non-finite MOS values"
    if np.ptp(pred) == 0:
        return "constant predictions"
    if np.ptp(mos) == 0:
        return "constant MOS"
    return ""


def summarise(values) -> tuple[float, float]:
    """Mean and sample standard deviation over splits (std NaN for a single split)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean()) if len(values) else float("nan")
    std = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
    return mean, std
