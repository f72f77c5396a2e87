"""The Diebold–Mariano test against an independent computation: statsmodels' HAC (uniform kernel) variance of
the mean loss difference, with Harvey, Leybourne and Newbold's correction; and the forecast metrics by hand."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from kiln.evaluation.forecast import coverage, diebold_mariano, mase, smape, wql


@pytest.mark.parametrize("h", [1, 3, 6])
def test_diebold_mariano_matches_statsmodels_hac(h: int) -> None:
    rng = np.random.default_rng(h)
    a = np.abs(rng.normal(0, 1.0, 80))
    b = np.abs(rng.normal(0.2, 1.0, 80))
    d = a - b
    n = len(d)
    fit = sm.OLS(d, np.ones(n)).fit(cov_type="HAC", cov_kwds={"maxlags": h - 1, "kernel": "uniform",
                                                              "use_correction": False})
    dm = fit.params[0] / fit.bse[0] * np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    p = 2 * stats.t.sf(abs(dm), df=n - 1)
    ours = diebold_mariano(a, b, h=h)
    assert ours.statistic == pytest.approx(dm, rel=1e-9)
    assert ours.p_value == pytest.approx(p, rel=1e-9)
    assert ours.mean_difference == pytest.approx(d.mean())


def test_a_clearly_better_forecast_is_significant_and_a_copy_is_not() -> None:
    rng = np.random.default_rng(0)
    worse = np.abs(rng.normal(0, 2, 200))
    better = worse * 0.5
    assert diebold_mariano(better, worse).p_value < 1e-6 and diebold_mariano(better, worse).statistic < 0
    same = diebold_mariano(worse, worse)
    assert same.p_value == 1.0 and same.statistic == 0.0


def test_metrics_by_hand() -> None:
    y = np.array([10.0, 20.0, 0.0])
    yhat = np.array([12.0, 18.0, 0.0])
    assert mase(y, yhat, scale=2.0) == pytest.approx((2 + 2 + 0) / 3 / 2)
    assert smape(y, yhat) == pytest.approx(200 / 3 * (2 / 22 + 2 / 38 + 0))
    q = np.tile(yhat[:, None], (1, 9))
    # every quantile at the point forecast: WQL is 2/9 Σ_k Σ_t ρ_k / Σ|y| = MAE-weighted
    levels = np.arange(1, 10) / 10
    loss = sum(abs((yt - qt) * ((yt <= qt) - k)) for yt, qt in zip(y, yhat, strict=True) for k in levels)
    assert wql([y], [q]) == pytest.approx(2 / 9 * loss / 30)
    assert coverage(y, np.column_stack([yhat - 1, *([yhat] * 7), yhat + 1])) == pytest.approx(1 / 3)


def test_a_sample_as_short_as_the_horizon_still_gets_a_finite_p_value() -> None:
    rng = np.random.default_rng(3)
    a, b = np.abs(rng.normal(0, 1, 14)), np.abs(rng.normal(0, 1, 14))
    test = diebold_mariano(a, b, h=14)  # one 14-step path: Newey-West with 13 lags has no estimate here
    assert np.isfinite(test.statistic) and 0.0 < test.p_value < 1.0
