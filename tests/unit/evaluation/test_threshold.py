"""choose_threshold: the F1-best or cost-best decision threshold, with its curve."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kiln.errors import InvalidDataError, InvalidOptionError
from kiln.evaluation.threshold import CURVE_COLUMNS, ThresholdChoice, choose_threshold, threshold_at


def _overlapping(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    return y, np.clip(0.25 + 0.3 * y + rng.normal(0, 0.15, n), 0, 1)


def test_separable_scores_give_f1_of_one_with_the_threshold_in_the_gap() -> None:
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(60, int), np.ones(40, int)]
    proba = np.r_[rng.uniform(0.0, 0.4, 60), rng.uniform(0.6, 1.0, 40)]

    choice = choose_threshold(y, proba)

    assert choice.objective == "f1" and choice.value == 1.0
    assert proba[y == 0].max() < choice.threshold <= proba[y == 1].min()


def test_costly_misses_lower_the_threshold() -> None:
    y, proba = _overlapping()

    equal = choose_threshold(y, proba, objective="cost", cost_fp=1, cost_fn=1)
    costly_misses = choose_threshold(y, proba, objective="cost", cost_fp=1, cost_fn=20)

    assert costly_misses.threshold < equal.threshold


def test_expected_cost_is_counted_per_row_at_the_chosen_threshold() -> None:
    y, proba = _overlapping()

    choice = choose_threshold(y, proba, objective="cost", cost_fp=2, cost_fn=7)

    flagged = proba >= choice.threshold
    fp, fn = np.sum(flagged & (y == 0)), np.sum(~flagged & (y == 1))
    assert choice.value == pytest.approx((2 * fp + 7 * fn) / len(y))
    assert choice.value == pytest.approx(choice.curve["expected_cost"].min())


def test_curve_has_its_columns_and_at_most_about_500_thresholds() -> None:
    y, proba = _overlapping(20_000)

    curve = choose_threshold(y, proba).curve

    assert list(curve.columns) == CURVE_COLUMNS
    assert 100 < len(curve) <= 502 and curve["threshold"].is_monotonic_increasing
    assert curve["recall"].iloc[0] == 1.0  # the lowest threshold flags every row


def test_threshold_at_measures_a_given_threshold() -> None:
    y, proba = _overlapping()

    measured = threshold_at(y, proba, 0.4, objective="f1")

    flagged = proba >= 0.4
    tp = np.sum(flagged & (y == 1))
    assert measured.threshold == 0.4
    assert measured.value == pytest.approx(2 * tp / (flagged.sum() + (y == 1).sum()))


def test_manifest_round_trip_keeps_the_setting() -> None:
    y, proba = _overlapping()
    choice = choose_threshold(y, proba, objective="cost", cost_fp=1, cost_fn=20)

    restored = ThresholdChoice.from_dict(choice.to_dict())

    assert restored == choice  # the curve is not part of the setting
    assert isinstance(restored.curve, pd.DataFrame) and list(restored.curve.columns) == CURVE_COLUMNS
    assert set(choice.to_dict()) == {"threshold", "objective", "cost_fp", "cost_fn", "value"}


def test_unknown_objective_and_negative_costs_are_refused() -> None:
    y, proba = _overlapping(200)

    with pytest.raises(InvalidOptionError, match="objective"):
        choose_threshold(y, proba, objective="accuracy")  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionError, match="cost_fn"):
        choose_threshold(y, proba, objective="cost", cost_fn=-1)


def test_a_single_class_cannot_choose_a_threshold() -> None:
    with pytest.raises(InvalidDataError, match="both classes"):
        choose_threshold(np.zeros(30, int), np.linspace(0, 1, 30))
