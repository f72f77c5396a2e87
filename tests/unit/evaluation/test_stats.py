"""fold_interval: the mean of per-fold scores with a corrected (wider) t-interval."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from kiln.evaluation.stats import fold_interval

SCORES = [0.81, 0.84, 0.79, 0.86, 0.83]


def _naive_interval(scores: list[float]) -> tuple[float, float]:
    values = np.asarray(scores)
    half = stats.t.ppf(0.975, df=len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return values.mean() - half, values.mean() + half


def test_interval_contains_the_mean() -> None:
    mean, low, high = fold_interval(SCORES)

    assert mean == pytest.approx(np.mean(SCORES))
    assert low < mean < high


def test_interval_is_wider_than_the_naive_t_interval() -> None:
    _, low, high = fold_interval(SCORES)
    naive_low, naive_high = _naive_interval(SCORES)

    assert low < naive_low and high > naive_high
    # Nadeau & Bengio for k folds: variance × (1/k + 1/(k-1)) instead of × 1/k.
    assert (high - low) / (naive_high - naive_low) == pytest.approx(math.sqrt(1 + 5 / 4))


def test_interval_grows_with_confidence() -> None:
    _, low_90, high_90 = fold_interval(SCORES, confidence=0.90)
    _, low_99, high_99 = fold_interval(SCORES, confidence=0.99)

    assert low_99 < low_90 and high_99 > high_90


def test_single_fold_has_no_interval() -> None:
    mean, low, high = fold_interval([0.7])

    assert mean == 0.7
    assert math.isnan(low) and math.isnan(high)


def test_identical_folds_give_a_zero_width_interval() -> None:
    assert fold_interval([0.5, 0.5, 0.5]) == (0.5, 0.5, 0.5)


def test_interval_is_clipped_to_the_metric_bounds() -> None:
    mean, low, high = fold_interval([0.99, 1.0, 0.97, 1.0, 0.995], bounds=(0.0, 1.0))

    assert high == 1.0
    assert low < mean < high
