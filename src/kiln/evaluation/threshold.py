"""The decision threshold of a binary model: the probability above which a row is positive.

0.5 is right only when both mistakes cost the same and the classes are balanced. Given
what a false alarm and a miss cost (`cost_fp`, `cost_fn`), the threshold that minimises
the expected cost per row, (cost_fp·FP + cost_fn·FN) / n, is chosen on out-of-fold
predictions; or, without costs, the one that maximises F1. A row is positive when its
probability is at least the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from kiln.errors import InvalidDataError, InvalidOptionError

Objective = Literal["f1", "cost"]
MAX_CANDIDATES = 500
CURVE_COLUMNS = ["threshold", "f1", "expected_cost", "precision", "recall"]


@dataclass(frozen=True)
class ThresholdChoice:
    """A threshold, the objective it serves, its value there, and the whole curve."""

    threshold: float
    objective: Objective
    cost_fp: float
    cost_fn: float
    value: float  # F1, or expected cost per row, at `threshold`
    curve: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CURVE_COLUMNS), compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The bundle manifest's `decision` entry (the curve stays out: it is data, not a setting)."""
        return {"threshold": float(self.threshold), "objective": self.objective, "cost_fp": float(self.cost_fp),
                "cost_fn": float(self.cost_fn), "value": float(self.value)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ThresholdChoice:
        return cls(float(data["threshold"]), data.get("objective", "f1"), float(data.get("cost_fp", 1.0)),
                   float(data.get("cost_fn", 1.0)), float(data.get("value", math.nan)))


def choose_threshold(y_true: np.ndarray, proba_positive: np.ndarray, *, objective: Objective = "f1",
                     cost_fp: float = 1.0, cost_fn: float = 1.0) -> ThresholdChoice:
    """The threshold that maximises F1 (`objective="f1"`) or minimises expected cost (`"cost"`).

    Candidates lie halfway between consecutive distinct probabilities (at most ~500,
    taken at quantiles), so the chosen threshold sits in a gap rather than on a row.
    Among equally good thresholds the lowest is kept.
    """
    y, proba = _validate(y_true, proba_positive, objective, cost_fp, cost_fn)
    curve = threshold_curve(y, proba, cost_fp=cost_fp, cost_fn=cost_fn)
    column = "f1" if objective == "f1" else "expected_cost"
    values = curve[column].to_numpy()
    best = int(np.argmax(values) if objective == "f1" else np.argmin(values))
    return ThresholdChoice(float(curve["threshold"].iloc[best]), objective, float(cost_fp), float(cost_fn),
                           float(values[best]), curve)


def threshold_at(y_true: np.ndarray, proba_positive: np.ndarray, threshold: float, *, objective: Objective = "f1",
                 cost_fp: float = 1.0, cost_fn: float = 1.0) -> ThresholdChoice:
    """A given threshold (e.g. the one a model uses) measured on these rows, with the curve."""
    y, proba = _validate(y_true, proba_positive, objective, cost_fp, cost_fn)
    curve = threshold_curve(y, proba, cost_fp=cost_fp, cost_fn=cost_fn)
    point = _rates(y, proba, np.asarray([float(threshold)]), cost_fp, cost_fn)
    value = point["f1" if objective == "f1" else "expected_cost"][0]
    return ThresholdChoice(float(threshold), objective, float(cost_fp), float(cost_fn), float(value), curve)


def threshold_curve(y_true: np.ndarray, proba_positive: np.ndarray, *, cost_fp: float = 1.0,
                    cost_fn: float = 1.0) -> pd.DataFrame:
    """F1, expected cost, precision and recall at each candidate threshold (ascending)."""
    y = np.asarray(y_true).astype(bool)
    proba = np.asarray(proba_positive, dtype="float64")
    return pd.DataFrame(_rates(y, proba, candidate_thresholds(proba), cost_fp, cost_fn), columns=CURVE_COLUMNS)


def candidate_thresholds(proba: np.ndarray) -> np.ndarray:
    levels = np.unique(proba)
    if len(levels) > MAX_CANDIDATES:
        levels = np.unique(np.quantile(proba, np.linspace(0.0, 1.0, MAX_CANDIDATES)))
    inner = (levels[:-1] + levels[1:]) / 2
    lowest = [levels[0] / 2]  # every row positive
    highest = [(levels[-1] + 1.0) / 2] if levels[-1] < 1.0 else []  # every row negative
    return np.concatenate([lowest, inner, highest])


def _rates(y: np.ndarray, proba: np.ndarray, thresholds: np.ndarray, cost_fp: float,
           cost_fn: float) -> dict[str, np.ndarray]:
    positives, negatives = np.sort(proba[y]), np.sort(proba[~y])
    tp = len(positives) - np.searchsorted(positives, thresholds, side="left")
    fp = len(negatives) - np.searchsorted(negatives, thresholds, side="left")
    fn = len(positives) - tp
    said = tp + fp
    precision = np.divide(tp, said, out=np.ones(len(thresholds)), where=said > 0)  # nothing flagged: no false alarm
    recall = tp / max(len(positives), 1)
    denominator = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.zeros(len(thresholds)), where=denominator > 0)
    cost = (cost_fp * fp + cost_fn * fn) / max(len(y), 1)
    return {"threshold": thresholds, "f1": f1, "expected_cost": cost, "precision": precision, "recall": recall}


def _validate(y_true: np.ndarray, proba_positive: np.ndarray, objective: str, cost_fp: float,
              cost_fn: float) -> tuple[np.ndarray, np.ndarray]:
    if objective not in ("f1", "cost"):
        raise InvalidOptionError(f"Threshold objective '{objective}' is unknown; use 'f1' or 'cost'.")
    for name, cost in (("cost_fp", cost_fp), ("cost_fn", cost_fn)):
        if not (math.isfinite(cost) and cost >= 0):
            raise InvalidOptionError(f"{name} must be a finite cost of at least 0; got {cost!r}.")
    if objective == "cost" and cost_fp == 0 and cost_fn == 0:
        raise InvalidOptionError("cost_fp and cost_fn are both 0, so every threshold costs nothing; "
                                 "give the cost of at least one kind of mistake.")
    y = np.asarray(y_true)
    proba = np.asarray(proba_positive, dtype="float64").reshape(-1)
    if len(y) != len(proba):
        raise InvalidOptionError(f"y_true has {len(y)} rows but proba_positive has {len(proba)}.")
    if not np.all(np.isfinite(proba)):
        raise InvalidDataError("proba_positive holds missing or infinite values; pass probabilities in [0, 1].")
    y = y.astype(bool)
    if y.all() or not y.any():
        raise InvalidDataError(
            f"Choosing a threshold needs rows of both classes; all {len(y):,} rows are "
            f"{'positive' if y.all() else 'negative'}. Use more labelled rows."
        )
    return y, proba
