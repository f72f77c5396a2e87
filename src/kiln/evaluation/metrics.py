"""Metrics with their direction, shown with their true sign.

Every metric scores the same prediction object the learners produce: a probability
matrix (n rows × n classes) for classification, a vector of values for regression.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kiln.errors import InvalidOptionError
from kiln.types import Task

DEFAULT_METRIC: dict[str, str] = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


@dataclass(frozen=True)
class Metric:
    """A score function with its direction (`greater_is_better`) and best value."""

    name: str
    greater_is_better: bool
    optimum: float
    tasks: frozenset[str]
    function: Callable[[np.ndarray, np.ndarray, Task], float]
    bounds: tuple[float, float] = (0.0, 1.0)  # the values the metric can take

    def score(self, y_true: np.ndarray, prediction: np.ndarray, task: Task) -> float:
        """The metric's value, with its true sign."""
        return float(self.function(np.asarray(y_true), np.asarray(prediction), task))

    def loss(self, y_true: np.ndarray, prediction: np.ndarray, task: Task) -> float:
        """A value to minimise: the score, negated when greater is better."""
        value = self.score(y_true, prediction, task)
        return -value if self.greater_is_better else value

    def clip(self, value: float) -> float:
        """Keep an interval end inside the metric's range (AUC cannot exceed 1)."""
        return float(min(max(value, self.bounds[0]), self.bounds[1]))

    def better(self, a: float, b: float) -> bool:
        return a > b if self.greater_is_better else a < b


def _labels(prediction: np.ndarray) -> np.ndarray:
    return prediction.argmax(axis=1)


def _roc_auc(y, p, task):
    from sklearn.metrics import roc_auc_score

    if task == "binary":
        return roc_auc_score(y, p[:, 1])
    present = np.unique(y)
    if len(present) == 2:  # only two classes in this sample: their binary AUC
        pair = p[:, present]
        return roc_auc_score(y == present[1], pair[:, 1] / np.maximum(pair.sum(axis=1), 1e-15))
    return roc_auc_score(y, p[:, present] / p[:, present].sum(axis=1, keepdims=True),
                         multi_class="ovr", labels=present)


def _pr_auc(y, p, task):
    """Average precision (the area under the precision-recall curve, as scikit-learn steps it): of the
    positive class for a binary task, the mean over classes present (one against the rest) otherwise.
    Unlike ROC AUC it falls when a rare class is ranked among many negatives (DQ009's advice)."""
    from sklearn.metrics import average_precision_score

    if task == "binary":
        return average_precision_score(y == 1, p[:, 1])
    present = np.unique(y)
    return float(np.mean([average_precision_score(y == c, p[:, c]) for c in present]))


def _log_loss(y, p, task):
    from sklearn.metrics import log_loss

    return log_loss(y, np.clip(p, 1e-15, 1.0), labels=np.arange(p.shape[1]))


def _accuracy(y, p, task):
    return float(np.mean(_labels(p) == y))


def _balanced_accuracy(y, p, task):
    from sklearn.metrics import balanced_accuracy_score

    return balanced_accuracy_score(y, _labels(p))


def _f1(y, p, task):
    from sklearn.metrics import f1_score

    return f1_score(y, _labels(p), average="binary" if task == "binary" else "macro", zero_division=0.0)


def _rmse(y, p, task):
    return float(np.sqrt(np.mean((y - p) ** 2)))


def _mae(y, p, task):
    return float(np.mean(np.abs(y - p)))


def _r2(y, p, task):
    total = np.sum((y - y.mean()) ** 2)
    return float(1.0 - np.sum((y - p) ** 2) / total) if total > 0 else 0.0


_CLASSIFICATION = frozenset({"binary", "multiclass"})
_REGRESSION = frozenset({"regression"})

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("roc_auc", True, 1.0, _CLASSIFICATION, _roc_auc),
        Metric("pr_auc", True, 1.0, _CLASSIFICATION, _pr_auc),
        Metric("log_loss", False, 0.0, _CLASSIFICATION, _log_loss, (0.0, np.inf)),
        Metric("accuracy", True, 1.0, _CLASSIFICATION, _accuracy),
        Metric("balanced_accuracy", True, 1.0, _CLASSIFICATION, _balanced_accuracy),
        Metric("f1", True, 1.0, _CLASSIFICATION, _f1),
        Metric("rmse", False, 0.0, _REGRESSION, _rmse, (0.0, np.inf)),
        Metric("mae", False, 0.0, _REGRESSION, _mae, (0.0, np.inf)),
        Metric("r2", True, 1.0, _REGRESSION, _r2, (-np.inf, 1.0)),
    )
}


def get_metric(name: str | None, task: Task) -> Metric:
    """The metric called `name` (default: the task's), checked against the task."""
    name = (name or DEFAULT_METRIC[task]).lower()
    if name not in METRICS:
        raise InvalidOptionError(f"Unknown metric '{name}'; choose one of {sorted(METRICS)}.")
    metric = METRICS[name]
    if task not in metric.tasks:
        usable = sorted(n for n, m in METRICS.items() if task in m.tasks)
        raise InvalidOptionError(f"Metric '{name}' does not apply to {task} tasks; use one of {usable}.")
    return metric
