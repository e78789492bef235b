import numpy as np
import pytest
from scipy import stats

from bench.results.metrics import evaluate, fit_logistic, summarise


def test_metrics_match_scipy():
    rng = np.random.default_rng(0)
    mos = rng.uniform(1, 5, 200)
    pred = mos + rng.normal(0, 0.8, 200)
    out = evaluate(pred, mos, mapping="none")
    assert out["srcc"] == pytest.approx(stats.spearmanr(pred, mos).statistic)
    assert out["krcc"] == pytest.approx(stats.kendalltau(pred, mos).statistic)
    assert out["plcc"] == pytest.approx(stats.pearsonr(pred, mos).statistic)
    # RMSE only after the logistic mapping: raw scores and MOS are on different scales.
    assert out["rmse"] == pytest.approx(np.sqrt(np.mean((fit_logistic(pred, mos) - mos) ** 2)))


def test_logistic_mapping_linearises_a_monotonic_relation():
    rng = np.random.default_rng(1)
    x = rng.uniform(-3, 3, 300)
    mos = 1 + 4 / (1 + np.exp(-2 * x)) + rng.normal(0, 0.05, 300)
    out = evaluate(x, mos, mapping="logistic")
    assert out["plcc_logistic"] > 0.99 > out["plcc_raw"]
    assert out["plcc"] == out["plcc_logistic"]
    assert out["rmse"] < 0.1
    mapped = fit_logistic(x, mos)
    assert np.all(np.diff(mapped[np.argsort(x)]) >= -1e-9)  # monotonic


def test_an_inverse_predictor_gets_negative_plccs():
    rng = np.random.default_rng(2)
    mos = rng.uniform(1, 5, 216)
    pred = -(mos + rng.normal(0, 1.4, 216))
    out = evaluate(pred, mos)
    assert out["srcc"] == pytest.approx(-0.6, abs=0.05)
    assert out["plcc_raw"] < -0.5 and out["plcc_logistic"] < -0.5
    assert evaluate(-pred, mos)["plcc_logistic"] == pytest.approx(-out["plcc_logistic"], abs=1e-6)


def test_logistic_plcc_of_noise_is_centred_on_zero():
    rng = np.random.default_rng(3)
    values = [evaluate(rng.normal(size=216), rng.uniform(1, 5, 216))["plcc_logistic"] for _ in range(500)]
    assert np.all(np.isfinite(values))
    assert abs(np.mean(values)) < 0.02
    assert np.mean(np.abs(values)) > 0.05  # signed values, not all zero


def test_logistic_plcc_beats_raw_on_a_monotone_nonlinear_relation():
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1, 216)
    mos = np.exp(5 * x) + rng.normal(0, 2, 216)
    out = evaluate(x, mos)
    assert out["plcc_logistic"] > out["plcc_raw"] > 0


def test_lower_is_better_sign_convention():
    mos = np.arange(10.0)
    raw = evaluate(-mos, mos, sign=1)
    adjusted = evaluate(-mos, mos, sign=-1)
    assert raw["srcc"] == pytest.approx(-1.0)
    assert adjusted["srcc"] == pytest.approx(1.0)


@pytest.mark.parametrize("pred, reason", [
    (np.ones(10), "constant predictions"),
    (np.r_[np.arange(9.0), np.nan], "1 non-finite predictions"),
])
def test_degenerate_predictions_give_nan_and_a_reason(pred, reason):
    out = evaluate(pred, np.arange(10.0))
    assert np.isnan(out["srcc"]) and np.isnan(out["plcc"]) and np.isnan(out["krcc"])
    assert out["reason"] == reason


def test_summarise_uses_sample_std():
    assert summarise([1.0, 2.0, 3.0]) == pytest.approx((2.0, 1.0))
    mean, std = summarise([0.5])
    assert mean == 0.5 and np.isnan(std)


def test_a_small_test_side_is_named_with_what_it_costs():
    from bench.results.metrics import test_side_warning

    assert "every metric is n/a" in test_side_warning(2)
    assert "logistic PLCC is n/a" in test_side_warning(4)
    assert "1 residual degrees of freedom" in test_side_warning(5)
    assert test_side_warning(20) == "" and test_side_warning(600) == ""


def test_cross_fitted_plcc_is_computed_only_when_asked_and_keeps_the_sign():
    from bench.results.metrics import plcc_column

    rng = np.random.default_rng(5)
    mos = rng.uniform(1, 5, 300)
    pred = mos + rng.normal(0, 1.0, 300)
    assert np.isnan(evaluate(pred, mos)["plcc_logistic_cv"])
    out = evaluate(pred, mos, cross_fit=True)
    # out of fold it can only lose against the in-sample fit of a linear relation, but not much
    assert out["plcc_logistic"] - 0.05 < out["plcc_logistic_cv"] < out["plcc_logistic"] + 1e-9
    # negated: the mirrored fits; each fold's optimiser stops a little differently, hence 5e-3
    assert evaluate(-pred, mos, cross_fit=True)["plcc_logistic_cv"] == pytest.approx(-out["plcc_logistic_cv"],
                                                                                      abs=5e-3)
    assert np.isnan(evaluate(pred[:12], mos[:12], cross_fit=True)["plcc_logistic_cv"])  # too few for 5 folds
    assert plcc_column("logistic-cv") == "plcc_logistic_cv"


def test_in_sample_logistic_flatters_noise_and_cross_fitting_does_not_as_much():
    rng = np.random.default_rng(6)
    pairs = [(rng.normal(size=120), rng.uniform(1, 5, 120)) for _ in range(60)]
    runs = [evaluate(p, m, cross_fit=True) for p, m in pairs]
    mean_abs = {k: np.mean([abs(r[k]) for r in runs]) for k in ("plcc_raw", "plcc_logistic", "plcc_logistic_cv")}
    assert mean_abs["plcc_logistic"] > mean_abs["plcc_raw"] + 0.05
    assert mean_abs["plcc_logistic_cv"] < mean_abs["plcc_logistic"] - 0.04
