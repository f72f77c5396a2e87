"""The time budget and the number of cross-validation folds."""

from __future__ import annotations

import math

import pytest

from kiln.errors import InvalidOptionError
from kiln.search.budget import Budget, choose_folds


@pytest.mark.parametrize(("n_rows", "n_columns", "time_limit", "folds"), [
    (1_000, 10, 60, 5),
    (1_000, 10, 20, 5),
    (1_000, 10, 19, 3),  # a short budget
    (300_000, 10, 59, 3),  # 3M cells in under a minute
    (300_000, 10, 60, 5),
    (3_000_000, 10, 179, 3),  # 30M cells in under three minutes
    (3_000_000, 10, 600, 5),
    (100, 0, 60, 5),
])
def test_folds_are_five_unless_time_is_short_for_the_size(n_rows, n_columns, time_limit, folds) -> None:
    assert choose_folds(n_rows, n_columns, time_limit, None) == folds


@pytest.mark.parametrize(("smallest_class", "folds"), [(100, 5), (5, 5), (4, 4), (3, 3), (2, 2)])
def test_folds_never_exceed_the_rarest_class(smallest_class: int, folds: int) -> None:
    assert choose_folds(1_000, 10, 60, smallest_class) == folds


def test_folds_are_at_least_two() -> None:
    assert choose_folds(1_000, 10, 60, 1) == 2


@pytest.mark.parametrize("limit", [0, 4.9, -10, math.nan])
def test_budget_below_five_seconds_is_refused(limit: float) -> None:
    with pytest.raises(InvalidOptionError, match=r"--time-limit .* is too short; give at least 5 seconds"):
        Budget(limit)


def test_budget_keeps_a_reserve_for_ensembling_refitting_and_saving() -> None:
    budget = Budget(100.0, start=1_000.0)

    assert budget.end == 1_100.0
    assert budget.reserve == pytest.approx(25.0)
    assert budget.search_deadline == pytest.approx(1_075.0)


@pytest.mark.parametrize(("total", "reserve"), [(5.0, 3.0), (10.0, 3.0), (3_600.0, 120.0)])
def test_reserve_is_bounded(total: float, reserve: float) -> None:
    assert Budget(total).reserve == pytest.approx(reserve)


def test_remaining_search_time_is_never_negative() -> None:
    budget = Budget(10.0, start=0.0)  # started long ago

    assert budget.remaining_search() == 0.0
    assert budget.elapsed() > 10.0
