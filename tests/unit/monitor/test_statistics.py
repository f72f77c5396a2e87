"""Drift statistics: each number matches SciPy or a hand computation, and the decision
keeps its false-alarm rate near alpha, finds real shifts, and ignores trivial ones."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from kiln.errors import InvalidDataError, InvalidOptionError
from kiln.monitor.statistics import (
    DEFAULT_THRESHOLDS,
    MAX_LEVELS,
    OTHER,
    FeatureDrift,
    categorical_drift,
    drift_table,
    js_distance,
    numeric_drift,
    psi,
)

ALPHA = DEFAULT_THRESHOLDS.alpha
TRIALS = 300
# With 300 trials at a true rate of 1 %, 9 or more hits has probability 0.4 %.
FALSE_ALARM_CEILING = ALPHA + 0.02
LEVELS = np.array(["a", "b", "c"])


def _categories(rng: np.random.Generator, shares: list[float], n: int) -> np.ndarray:
    return rng.choice(LEVELS, p=shares, size=n)


# --- each statistic is the one it claims to be -------------------------------------------


def test_ks_statistic_and_p_value_equal_scipy():
    rng = np.random.default_rng(0)
    reference, current = rng.normal(size=3000), rng.normal(0.1, 1.2, size=700)
    result = numeric_drift("x", reference, current)
    expected = stats.ks_2samp(reference, current)
    assert (result.test, result.kind) == ("ks", "numeric")
    assert result.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert result.effect == result.statistic
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert (result.n_reference, result.n_current) == (3000, 700)


def test_chi2_equals_chi2_contingency_without_yates_correction():
    reference = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    current = ["a"] * 30 + ["b"] * 45 + ["c"] * 35 + ["d"] * 10
    result = categorical_drift("colour", reference, current)
    table = np.array([[50, 30, 20, 0], [30, 45, 35, 10]])
    expected = stats.chi2_contingency(table, correction=False)
    assert result.bins == ["a", "b", "c", "d"]
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    two_levels = categorical_drift("flag", [True] * 40 + [False] * 60, [True] * 55 + [False] * 45)
    expected = stats.chi2_contingency(np.array([[40, 60], [55, 45]]), correction=False)
    assert two_levels.statistic == pytest.approx(expected.statistic, rel=1e-12)


def test_cramers_v_is_the_textbook_value_for_equal_samples():
    reference = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    current = ["a"] * 30 + ["b"] * 30 + ["c"] * 40
    chi2 = stats.chi2_contingency(np.array([[60, 30, 10], [30, 30, 40]]), correction=False).statistic
    assert categorical_drift("c", reference, current).effect == pytest.approx(math.sqrt(chi2 / 200), rel=1e-12)


def test_cramers_v_does_not_shrink_when_the_reference_is_larger():
    reference = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    current = ["a"] * 30 + ["b"] * 30 + ["c"] * 40
    same_size = categorical_drift("c", reference, current)
    big_reference = categorical_drift("c", reference * 20, current)
    naive_v = math.sqrt(big_reference.statistic / (big_reference.n_reference + big_reference.n_current))
    assert big_reference.effect == pytest.approx(same_size.effect, rel=1e-12)
    assert naive_v < 0.6 * same_size.effect  # what raw-count V would have reported


def test_psi_by_hand():
    # (0.4 − 0.5)·ln(0.4/0.5) + (0.4 − 0.3)·ln(0.4/0.3) + 0
    assert psi([0.5, 0.3, 0.2], [0.4, 0.4, 0.2]) == pytest.approx(0.0510826, abs=1e-7)
    assert psi([50, 30, 20], [4, 4, 2]) == pytest.approx(0.0510826, abs=1e-7)  # counts are normalised


def test_psi_raises_an_empty_share_to_epsilon():
    # (0.4 − 0.5)·ln(0.8) + (0.1 − 0.0001)·ln(0.1/0.0001)
    assert psi([0.5, 0.5, 0.0], [0.5, 0.4, 0.1]) == pytest.approx(0.0223144 + 0.0999 * math.log(1000), abs=1e-6)
    assert psi([1, 1], [1, 1]) == 0.0


def test_js_distance_equals_scipy_in_base_2():
    rng = np.random.default_rng(1)
    reference, current = rng.dirichlet(np.ones(8)), rng.dirichlet(np.ones(8))
    assert js_distance(reference, current) == pytest.approx(jensenshannon(reference, current, base=2), rel=1e-12)
    assert js_distance([0.5, 0.5, 0.0], [0.0, 0.0, 1.0]) == pytest.approx(1.0)
    assert js_distance([0.2, 0.8], [0.2, 0.8]) == 0.0


def test_shares_of_different_lengths_are_refused():
    with pytest.raises(InvalidDataError, match="same length"):
        psi([0.5, 0.5], [1.0])


def test_numeric_psi_and_js_are_computed_on_reference_quantile_bins():
    rng = np.random.default_rng(2)
    result = numeric_drift("x", rng.exponential(size=10_000), rng.exponential(size=2000), bins=10)
    assert len(result.bins) == 10
    assert result.reference_shares == pytest.approx([0.1] * 10, abs=1e-3)
    assert result.psi == pytest.approx(psi(result.reference_shares, result.current_shares), rel=1e-9)
    assert result.js_distance == pytest.approx(js_distance(result.reference_shares, result.current_shares))
    assert result.bins[0].startswith("≤ ") and result.bins[-1].startswith("> ")


def test_bins_are_closed_on_the_right_as_their_labels_say():
    result = numeric_drift("x", np.arange(101.0), np.full(40, 25.0), bins=4)  # edges 25, 50, 75
    assert result.bins == ["≤ 25", "(25, 50]", "(50, 75]", "> 75"]
    assert result.current_shares == [1.0, 0.0, 0.0, 0.0]
    assert result.reference_shares[0] == pytest.approx(26 / 101)


# --- the decision: false alarms, power, and trivial shifts at huge n --------------------


def _flag_rates(results: list[FeatureDrift]) -> tuple[float, float, float, float]:
    p_values = np.array([r.p_value for r in results])
    return (float(np.mean([r.drifted for r in results])), float(np.mean(p_values < ALPHA)),
            float(np.mean(p_values < 0.1)), float(np.mean(p_values < 0.5)))


def _assert_no_false_alarms(results: list[FeatureDrift]) -> None:
    drifted, below_alpha, below_tenth, below_half = _flag_rates(results)
    assert drifted <= FALSE_ALARM_CEILING
    assert below_alpha <= FALSE_ALARM_CEILING
    # p-values of same-distribution samples are uniform: a test that never fires would fail here.
    assert 0.04 <= below_tenth <= 0.16
    assert 0.40 <= below_half <= 0.60


def test_numeric_false_alarm_rate_stays_near_alpha():
    rng = np.random.default_rng(10)
    _assert_no_false_alarms([numeric_drift("x", rng.normal(size=2000), rng.normal(size=2000)) for _ in range(TRIALS)])


def test_categorical_false_alarm_rate_stays_near_alpha():
    rng = np.random.default_rng(11)
    shares = [0.6, 0.3, 0.1]
    _assert_no_false_alarms([categorical_drift("c", _categories(rng, shares, 2000), _categories(rng, shares, 2000))
                             for _ in range(TRIALS)])


def test_many_levels_lumped_into_other_keep_the_false_alarm_rate():
    rng = np.random.default_rng(12)
    results = [categorical_drift("c", rng.integers(0, 200, size=3000), rng.integers(0, 200, size=3000))
               for _ in range(TRIALS)]
    assert len(results[0].bins) == MAX_LEVELS and results[0].bins[-1] == OTHER
    assert "(other)" in results[0].note
    _assert_no_false_alarms(results)


def test_half_a_standard_deviation_shift_is_flagged():
    rng = np.random.default_rng(20)
    results = [numeric_drift("x", rng.normal(size=1000), rng.normal(0.5, 1, size=1000)) for _ in range(100)]
    assert np.mean([r.drifted for r in results]) >= 0.95
    assert all(r.effect >= DEFAULT_THRESHOLDS.ks_d for r in results if r.drifted)


def test_category_share_change_is_flagged():
    rng = np.random.default_rng(21)
    results = [categorical_drift("c", _categories(rng, [0.6, 0.3, 0.1], 1000), _categories(rng, [0.3, 0.3, 0.4], 1000))
               for _ in range(100)]
    assert np.mean([r.drifted for r in results]) == 1.0
    assert {r.severity for r in results} == {"major"}


def test_tiny_numeric_shift_at_huge_n_is_significant_but_not_drift():
    rng = np.random.default_rng(30)
    result = numeric_drift("x", rng.normal(size=200_000), rng.normal(0.02, 1, size=200_000))
    assert result.p_value < ALPHA
    assert result.effect < DEFAULT_THRESHOLDS.ks_d
    assert not result.drifted and result.severity == "none"


def test_tiny_category_shift_at_huge_n_is_significant_but_not_drift():
    rng = np.random.default_rng(31)
    result = categorical_drift("c", rng.choice(["a", "b"], p=[0.5, 0.5], size=200_000),
                               rng.choice(["a", "b"], p=[0.51, 0.49], size=200_000))
    assert result.p_value < ALPHA
    assert result.effect < DEFAULT_THRESHOLDS.cramers_v
    assert not result.drifted


def test_moderate_severity_for_a_drift_with_psi_between_the_lines():
    rng = np.random.default_rng(32)
    result = numeric_drift("x", rng.normal(size=5000), rng.normal(0.35, 1, size=5000))
    assert result.drifted
    assert DEFAULT_THRESHOLDS.psi_moderate <= result.psi <= DEFAULT_THRESHOLDS.psi_major
    assert result.severity == "moderate"


# --- edge cases ---------------------------------------------------------------------------


def test_unseen_categories_count_as_drift():
    reference = ["a"] * 500 + ["b"] * 500
    current = ["a"] * 350 + ["b"] * 350 + ["new"] * 300
    result = categorical_drift("c", reference, current)
    assert result.bins == ["a", "b", "new"]
    assert result.reference_shares == [0.5, 0.5, 0.0]
    assert result.current_shares[2] == pytest.approx(0.3)
    assert result.drifted and result.severity == "major"
    assert math.isfinite(result.psi) and result.psi > 1


def test_numbers_outside_the_reference_range_land_in_the_edge_bins():
    rng = np.random.default_rng(40)
    reference = rng.uniform(0, 1, size=1000)
    above = numeric_drift("x", reference, rng.uniform(5, 6, size=200))
    below = numeric_drift("x", reference, rng.uniform(-6, -5, size=200))
    assert above.current_shares[-1] == 1.0 and below.current_shares[0] == 1.0
    assert above.effect == 1.0 and above.drifted and above.severity == "major"
    assert below.drifted


def test_small_current_sample_is_reported_but_not_flagged():
    rng = np.random.default_rng(41)
    result = numeric_drift("x", rng.normal(size=2000), rng.normal(3, 1, size=20))
    assert result.p_value < ALPHA  # the shift is obvious, yet 20 rows are too few to act on
    assert not result.drifted and result.severity == "none"
    assert "only 20 current" in result.note


def test_empty_current_sample_has_no_p_value():
    result = numeric_drift("x", np.arange(100.0), np.array([np.nan, np.nan]))
    assert result.n_current == 0 and math.isnan(result.p_value) and not result.drifted
    assert result.to_dict()["p_value"] is None


def test_missing_values_are_ignored():
    rng = np.random.default_rng(42)
    reference, current = rng.normal(size=500), rng.normal(0.3, 1, size=400)
    clean = numeric_drift("x", reference, current)
    holed = numeric_drift("x", np.r_[reference, [np.nan] * 50], np.r_[[np.nan, np.inf], current])
    assert (holed.n_reference, holed.n_current) == (500, 400)
    assert (holed.statistic, holed.p_value, holed.psi) == (clean.statistic, clean.p_value, clean.psi)
    categories = categorical_drift("c", ["a", None, "b", np.nan] * 40, ["a", "b", "b", pd.NA] * 40)
    assert categories.bins == ["a", "b"] and (categories.n_reference, categories.n_current) == (80, 120)


def test_nullable_integer_column_is_read_with_its_gaps():
    values = pd.array(list(range(20)) * 5 + [None] * 10, dtype="Int64")
    result = numeric_drift("x", values, values)
    assert (result.n_reference, result.test, result.p_value) == (100, "ks", 1.0)


def test_discrete_numbers_are_tested_as_categories():
    rng = np.random.default_rng(43)
    result = numeric_drift("tool wear band", rng.integers(0, 4, size=1000).astype(float), rng.integers(0, 4, size=1000))
    assert (result.kind, result.test) == ("numeric", "chi2")
    assert result.bins == ["0", "1", "2", "3"]
    assert "tested as categories" in result.note
    assert numeric_drift("x", np.arange(11.0).repeat(10), np.arange(11.0).repeat(10)).test == "ks"


def test_drift_table_follows_kinds_and_skips_other_kinds():
    rng = np.random.default_rng(44)
    reference = pd.DataFrame({"speed": rng.normal(size=300), "type": rng.choice(["L", "M", "H"], size=300),
                              "flag": rng.random(300) < 0.5, "comment": ["ok"] * 300})
    current = reference.assign(speed=reference["speed"] + 2)
    results = drift_table(reference, current, {"type": "categorical", "speed": "numeric", "comment": "text",
                                               "flag": "boolean"})
    assert [(r.column, r.test) for r in results] == [("type", "chi2"), ("speed", "ks"), ("flag", "chi2")]
    assert [r.drifted for r in results] == [False, True, False]


def test_drift_table_names_columns_missing_from_the_current_window():
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(InvalidDataError, match=r"current data lacks 1 column.*'b'"):
        drift_table(frame.assign(b=1.0), frame, {"a": "numeric", "b": "numeric"})


def test_to_dict_is_json_ready():
    result = categorical_drift("c", ["a"] * 40, ["a"] * 35 + ["b"] * 5)
    as_dict = result.to_dict()
    assert set(as_dict) == set(FeatureDrift.__dataclass_fields__)
    assert json.loads(json.dumps(as_dict, allow_nan=False))["bins"] == ["a", "b"]


def test_bad_options_and_non_numbers_are_refused():
    with pytest.raises(InvalidOptionError, match="alpha"):
        numeric_drift("x", [1.0], [1.0], alpha=1.5)
    with pytest.raises(InvalidOptionError, match="bins"):
        numeric_drift("x", [1.0], [1.0], bins=1)
    with pytest.raises(InvalidDataError, match="'x' was given as numeric"):
        numeric_drift("x", ["red", "blue"], [1.0])


def test_drift_and_profile_share_one_cramers_v() -> None:
    """The drift effect is the profile's Cramér's V (SciPy's) of the table with both samples weighted equally."""
    from scipy.stats.contingency import association

    from kiln.data.association import cramers_v
    from kiln.monitor.statistics import _balanced_cramers_v

    table = np.array([[120, 30, 50], [10, 25, 15]])
    assert cramers_v(table) == pytest.approx(association(table, method="cramer"))
    equal = np.vstack([table[0] * table[1].sum(), table[1] * table[0].sum()])
    assert _balanced_cramers_v(table) == pytest.approx(cramers_v(equal))
    assert _balanced_cramers_v(table) > cramers_v(table)  # raw counts shrink V when the reference is larger
