"""Greedy ensemble selection over out-of-fold predictions."""

from __future__ import annotations

import numpy as np
import pytest

from kiln.ensemble.selection import select_ensemble
from kiln.evaluation.metrics import get_metric

N = 200
RNG = np.random.default_rng(0)
Y = RNG.integers(0, 2, N)
FIRST_HALF = np.arange(N) < N // 2


def _binary(p_true: np.ndarray) -> np.ndarray:
    """Probability matrix giving the true class probability `p_true` on each row."""
    p1 = np.where(Y == 1, p_true, 1 - p_true)
    return np.column_stack([1 - p1, p1])


def _random_candidates(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [_binary(np.clip(rng.normal(0.6, 0.2, N), 0.02, 0.98)) for _ in range(n)]


@pytest.mark.parametrize("metric_name", ["log_loss", "roc_auc", "accuracy"])
def test_weights_sum_to_one_and_name_candidates(metric_name: str) -> None:
    candidates = _random_candidates(6, seed=1)

    result = select_ensemble(candidates, Y, get_metric(metric_name, "binary"), "binary")

    assert sum(result.weights.values()) == pytest.approx(1.0)
    assert all(0 <= i < len(candidates) and w > 0 for i, w in result.weights.items())


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("metric_name", ["log_loss", "roc_auc"])
def test_ensemble_is_never_worse_than_the_best_single_candidate(seed: int, metric_name: str) -> None:
    metric = get_metric(metric_name, "binary")
    candidates = _random_candidates(5, seed)

    result = select_ensemble(candidates, Y, metric, "binary")

    best_single = min(metric.loss(Y, p, "binary") for p in candidates)
    assert result.loss <= best_single + 1e-12
    assert result.loss == pytest.approx(metric.loss(Y, result.prediction, "binary"))


def test_prediction_is_the_weighted_blend() -> None:
    candidates = _random_candidates(4, seed=2)

    result = select_ensemble(candidates, Y, get_metric("log_loss", "binary"), "binary")

    blended = sum(w * candidates[i] for i, w in result.weights.items())
    np.testing.assert_allclose(result.prediction, blended)


def test_two_complementary_predictors_are_mixed() -> None:
    # Each is confident and right on its half of the rows, and wrong on the other half.
    first = _binary(np.where(FIRST_HALF, 0.9, 0.3))
    second = _binary(np.where(FIRST_HALF, 0.3, 0.9))
    useless = _binary(np.full(N, 0.45))
    metric = get_metric("log_loss", "binary")

    result = select_ensemble([useless, first, second], Y, metric, "binary")

    assert set(result.weights) == {1, 2}
    assert result.weights[1] == pytest.approx(0.5, abs=0.1)
    assert result.loss < min(metric.loss(Y, p, "binary") for p in (first, second))


def test_a_single_candidate_gets_all_the_weight() -> None:
    only = _random_candidates(1, seed=3)

    result = select_ensemble(only, Y, get_metric("roc_auc", "binary"), "binary")

    assert result.weights == {0: 1.0}


def test_regression_blends_opposite_biases() -> None:
    y = RNG.normal(size=N)
    metric = get_metric("rmse", "regression")

    result = select_ensemble([y + 1.0, y - 1.0, y + 3.0], y, metric, "regression")

    assert result.weights == {0: 0.5, 1: 0.5}
    assert result.loss == pytest.approx(0.0, abs=1e-12)


def test_multiclass_blend_stays_a_probability_matrix() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, N)
    candidates = [rng.dirichlet([1, 1, 1], N) + np.eye(3)[y] * rng.random() for _ in range(4)]
    candidates = [c / c.sum(axis=1, keepdims=True) for c in candidates]

    result = select_ensemble(candidates, y, get_metric("log_loss", "multiclass"), "multiclass")

    np.testing.assert_allclose(result.prediction.sum(axis=1), 1.0)


def test_no_candidates_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"at least one candidate"):
        select_ensemble([], Y, get_metric("log_loss", "binary"), "binary")


def test_with_folds_the_choice_is_by_the_mean_of_fold_losses_as_the_leaderboard_ranks() -> None:
    """Pooled RMSE and the mean of the folds' RMSEs can disagree; with `folds` the choice
    follows the mean of folds, the score the leaderboard shows."""
    rmse = get_metric("rmse", "regression")
    y = np.zeros(100)
    folds = [np.arange(50), np.arange(50, 100)]
    exact_then_off = np.concatenate([np.zeros(50), np.full(50, 2.0)])  # folds 0 and 2: mean 1.0, pooled 1.41
    steady = np.full(100, 1.2)  # folds 1.2 and 1.2: mean 1.2, pooled 1.2

    pooled = select_ensemble([exact_then_off, steady], y, rmse, "regression", steps=1)
    by_folds = select_ensemble([exact_then_off, steady], y, rmse, "regression", steps=1, folds=folds)

    assert pooled.weights == {1: 1.0}
    assert by_folds.weights == {0: 1.0}
    assert by_folds.loss == pytest.approx(np.mean([rmse.score(y[f], exact_then_off[f], "regression") for f in folds]))
