"""Greedy ensemble selection (Caruana et al., 2004) over out-of-fold predictions.

Start from the best single model; at each step add (with replacement) the model whose
inclusion most improves the metric of the averaged prediction; weights are how often
each model was picked. Nearly free to compute, and usually worth more than tuning.

With `folds` (the validation rows of each fold), the loss is the mean of the folds'
losses: the score the leaderboard ranks by, so the ensemble is chosen on the same score
it is shown with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kiln.evaluation.metrics import Metric
from kiln.types import Task

DEFAULT_STEPS = 25
MAX_CANDIDATES = 30


@dataclass(frozen=True)
class EnsembleResult:
    """Weights (summing to 1) per candidate index, and the ensemble's OOF prediction."""

    weights: dict[int, float]
    prediction: np.ndarray
    loss: float


def cv_loss(metric: Metric, y: np.ndarray, prediction: np.ndarray, task: Task,
            folds: list[np.ndarray] | None = None) -> float:
    """The metric's loss over all rows, or the mean of its losses over `folds`."""
    if folds is None:
        return metric.loss(y, prediction, task)
    return float(np.mean([metric.loss(y[rows], prediction[rows], task) for rows in folds]))


def select_ensemble(predictions: list[np.ndarray], y: np.ndarray, metric: Metric, task: Task,
                    steps: int = DEFAULT_STEPS, folds: list[np.ndarray] | None = None) -> EnsembleResult:
    """Choose weights for `predictions` (each an OOF prediction of every row); with
    `folds`, by the mean of the folds' losses rather than the pooled loss."""
    if not predictions:
        raise ValueError("select_ensemble needs at least one candidate")
    losses = [cv_loss(metric, y, p, task, folds) for p in predictions]
    candidates = list(np.argsort(losses, kind="stable")[:MAX_CANDIDATES])
    counts: dict[int, int] = {}
    total = np.zeros_like(predictions[candidates[0]], dtype="float64")
    best_loss, best_counts = np.inf, {}
    for step in range(1, steps + 1):
        step_losses = [cv_loss(metric, y, (total + predictions[i]) / step, task, folds) for i in candidates]
        pick = candidates[int(np.argmin(step_losses))]  # ties go to the better single model
        counts[pick] = counts.get(pick, 0) + 1
        total += predictions[pick]
        if min(step_losses) < best_loss - 1e-12:
            best_loss, best_counts = min(step_losses), dict(counts)
    n_picked = sum(best_counts.values())
    weights = {int(i): c / n_picked for i, c in sorted(best_counts.items())}
    blended = sum(w * predictions[i] for i, w in weights.items())
    return EnsembleResult(weights, blended, cv_loss(metric, y, blended, task, folds))
