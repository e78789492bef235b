"""The paired tests and intervals against scipy, on inputs whose answer is known."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.report.significance import confidence_intervals, corrected_t_p, resampled_srcc, t_interval, wilcoxon_p


def test_identical_methods_give_p_one():
    a = np.random.default_rng(0).uniform(0.6, 0.9, 10)
    assert wilcoxon_p(a, a.copy()) == 1.0
    assert corrected_t_p(a, a.copy(), 0.2) == 1.0


def test_uniformly_better_gives_the_smallest_exact_p():
    rng = np.random.default_rng(1)
    worse = rng.uniform(0.5, 0.8, 10)
    better = worse + rng.uniform(0.001, 0.05, 10)
    p = wilcoxon_p(better, worse)
    assert p == pytest.approx(2 / 2 ** 10, rel=1e-12)  # two-sided, all 10 signs agree
    assert p == stats.wilcoxon(better, worse, method="exact").pvalue
    assert wilcoxon_p(worse, better) == p


def test_wilcoxon_matches_scipy_on_mixed_differences():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(0.5, 0.9, 10), rng.uniform(0.5, 0.9, 10)
    assert wilcoxon_p(a, b) == pytest.approx(stats.wilcoxon(a, b).pvalue)
    assert 2 / 1024 < wilcoxon_p(a, b) <= 1
    with_nan = np.append(a, np.nan), np.append(b, 0.7)
    assert wilcoxon_p(*with_nan) == pytest.approx(stats.wilcoxon(a, b).pvalue)  # NaN split dropped


def test_corrected_t_reduces_to_the_paired_t_test_without_correction():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.5, 0.9, 10), rng.uniform(0.5, 0.9, 10)
    assert corrected_t_p(a, b, 0.0) == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert corrected_t_p(a, b, 0.2) > stats.ttest_rel(a, b).pvalue  # overlapping splits: less certain


def test_t_interval_matches_scipy():
    values = np.random.default_rng(4).uniform(0.7, 0.8, 10)
    low, high = t_interval(values.mean(), values.std(ddof=1), 10)
    expected = stats.t.interval(0.95, 9, loc=values.mean(), scale=stats.sem(values))
    assert (low, high) == pytest.approx(expected)
    assert np.isnan(t_interval(0.5, np.nan, 1)[0])
    summary = pd.DataFrame({"n_splits": [10], **{f"{m}_{s}": [values.mean() if s == "mean" else values.std(ddof=1)]
                                                 for m in ("srcc", "plcc", "krcc") for s in ("mean", "std")}})
    assert confidence_intervals(summary)["srcc_ci_low"].iloc[0] == pytest.approx(expected[0])


def test_vectorised_resampled_srcc_equals_scipy_per_resample():
    rng = np.random.default_rng(5)
    mos = rng.uniform(1, 5, 40)
    preds = np.stack([mos + rng.normal(0, s, 40) for s in (0.3, 1.5)])
    indices = rng.integers(0, 40, (25, 40))  # repeats: ties in every resample
    got = resampled_srcc(preds, mos, indices)
    expected = [[stats.spearmanr(p[i], mos[i]).statistic for i in indices] for p in preds]
    np.testing.assert_allclose(got, expected, atol=1e-12)
