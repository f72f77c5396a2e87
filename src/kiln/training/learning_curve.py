"""Learning curve: how the cross-validated score grows with the training rows.

Computed at training time for the best single configuration, from time the budget's
reserve leaves over: the same validation folds (at most 3), with the training part
subsampled to 10%, 25% and 50% (stratified for classification); the 100% point is the
trial's own fold scores. A curve still rising at 100% says more data would help; a flat
one says the model has learned what these features can give. A fit the deadline cut
short is left out rather than shown as a weaker point.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kiln.data.schema import Schema
from kiln.evaluation.metrics import Metric
from kiln.evaluation.stats import fold_interval
from kiln.search.trial import TrialSpec
from kiln.types import Task

FRACTIONS = (0.1, 0.25, 0.5)
MAX_FOLDS = 3
MIN_ROWS = 20


def learning_curve(features: pd.DataFrame, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                   schema: Schema, task: Task, n_classes: int, *, spec: TrialSpec, full_scores: list[float],
                   metric: Metric, seed: int, deadline: float, scratch: Path,
                   fit_seconds: float, embed: bool = False) -> dict[str, Any] | None:
    """Points (fraction, rows, score, interval) for `spec`, or None when time is too short."""
    from kiln.search.runner import InlineRunner
    from kiln.search.worker import WorkerData

    chosen = folds[:MAX_FOLDS]
    per_fold = fit_seconds / max(len(folds), 1)
    points = []
    for fraction in FRACTIONS:
        if time.time() + 1.5 * per_fold * fraction * len(chosen) > deadline:
            break
        sub_folds = [(_subsample(train, y, task, fraction, seed), val) for train, val in chosen]
        if min(len(train) for train, _ in sub_folds) < MIN_ROWS:
            continue
        runner = InlineRunner(WorkerData(features, y, sub_folds, schema, task, n_classes, seed, str(scratch), embed))
        results = [runner.submit(spec, k, deadline).result() for k in range(len(sub_folds))]
        if any(r.error or r.stopped_by_deadline for r in results):
            break
        scores = [metric.score(y[val], r.prediction, task) for r, (_, val) in zip(results, sub_folds, strict=True)]
        points.append(_point(fraction, np.mean([len(t) for t, _ in sub_folds]), scores, metric))
    if not points:
        return None
    full_rows = np.mean([len(train) for train, _ in chosen])
    points.append(_point(1.0, full_rows, list(full_scores[:len(chosen)]), metric))
    return {"model": spec.name, "metric": metric.name, "points": points}


def _point(fraction: float, rows: float, scores: list[float], metric: Metric) -> dict[str, float]:
    mean, low, high = fold_interval(scores, bounds=metric.bounds)
    return {"fraction": fraction, "rows": round(float(rows)), "score": mean, "ci_low": low, "ci_high": high}


def _subsample(train: np.ndarray, y: np.ndarray, task: Task, fraction: float, seed: int) -> np.ndarray:
    from sklearn.model_selection import train_test_split

    size = max(int(len(train) * fraction), 2)
    stratify = y[train] if task != "regression" else None
    try:
        part, _ = train_test_split(train, train_size=size, random_state=seed, stratify=stratify)
    except ValueError:  # a class too rare to stratify at this size
        part, _ = train_test_split(train, train_size=size, random_state=seed)
    return np.sort(part)
