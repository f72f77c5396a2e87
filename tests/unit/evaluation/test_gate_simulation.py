"""The retrain gate's error rates, measured on gate rows drawn from a known model (evaluate/gate_simulation.py).

A test at level α promotes an equally good challenger in α of trials *on average*: over 200
trials the count is Binomial(200, α), 10 ± 3 at α = 0.05, so "at most 10" would fail about
40% of the time for a test of exactly the right size. These tests assert what 200 trials can
show: the count is consistent with a rate ≤ α (at most the binomial 99th percentile of
Binomial(200, α), 18), every verdict is exactly p < α, and a really better challenger is
promoted often. benchmarks/gate_error_rates.py runs 2,000 trials per case for the rates.
"""

from __future__ import annotations

import pytest
from scipy import stats

from kiln.evaluation.gate_simulation import GateScenario, simulate_gate

TRIALS = 200
ALPHA = 0.05
MOST_UNDER_NULL = int(stats.binom.ppf(0.99, TRIALS, ALPHA))  # 18


@pytest.mark.parametrize("scenario", [
    GateScenario("binary", "roc_auc", improvement=0.0),  # DeLong
    GateScenario("binary", "f1", improvement=0.0, n_rows=300),  # bootstrap, each at its own threshold
    GateScenario("binary", "roc_auc", improvement=-0.02, rule="non-inferiority", margin=0.02),  # worse by the margin
], ids=["auc-superiority", "f1-at-thresholds", "auc-non-inferiority"])
def test_a_challenger_no_better_than_the_null_is_promoted_at_most_alpha_of_the_time(scenario) -> None:
    result = simulate_gate(scenario, trials=TRIALS, seed=0)

    assert result.decisions_match_p  # the verdict is p < α, the α stated
    assert result.promoted <= MOST_UNDER_NULL, (result.promoted, result.interval())
    assert result.interval()[0] <= ALPHA  # the 95% interval of the rate reaches down to α or below


def test_a_really_better_challenger_is_promoted_with_the_stated_power() -> None:
    """AUC better by 0.05 (0.856 → 0.906) on 400 gate rows: DeLong's power is about 0.8 here."""
    result = simulate_gate(GateScenario("binary", "roc_auc", improvement=0.05), trials=TRIALS, seed=1)

    assert result.challenger_value - result.champion_value == pytest.approx(0.05)
    assert result.rate >= 0.7, result.interval()


def test_the_known_model_has_the_stated_population_values() -> None:
    """The simulation's world is what it claims: equal quality means equal population metric and threshold."""
    same = simulate_gate(GateScenario("binary", "f1", improvement=0.0), trials=1)
    better = simulate_gate(GateScenario("regression", "rmse", improvement=0.1), trials=1)

    assert same.champion_value == pytest.approx(same.challenger_value, abs=1e-9)
    assert (better.champion_value, better.challenger_value) == pytest.approx((1.0, 0.9))
