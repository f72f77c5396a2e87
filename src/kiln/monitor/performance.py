"""Live performance: real metrics from delayed labels, and an estimate before labels come.

Real: the labelled rows of each time window, scored with a 95% bootstrap interval.

Estimated: confidence-based performance estimation (CBPE, as NannyML does it). The
model's probabilities are first calibrated on the reference (the training rows'
out-of-fold probabilities against their true labels, isotonic regression); a calibrated
probability p of "positive" means the row is a true positive with chance p if predicted
positive, so the expected confusion matrix, and from it the expected accuracy and ROC
AUC, follow without a single label. It assumes the relation between features and label
is unchanged (covariate shift only); a gap between the estimate and the real value,
once labels arrive, is itself a sign of concept drift.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from kiln.model import Model

MIN_LABELLED = 30  # fewer labelled rows in a window give no real value (the interval would be all of [0, 1])


@dataclass(frozen=True)
class WindowPerformance:
    """One time window: rows served, rows labelled, the real metric with its interval, the estimate."""

    start: float
    end: float
    rows: int
    labelled: int
    metric: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    estimated: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def performance_metric(model: Model) -> str:
    """The metric tracked live: ROC AUC (binary), accuracy (multiclass), the model's own (regression)."""
    return {"binary": "roc_auc", "multiclass": "accuracy"}.get(model.task, model.metric)


def live_performance(model: Model, window: pd.DataFrame, *, windows: int = 6, seed: int = 0) -> list[WindowPerformance]:
    """Performance per equal-width time window of `window` (prediction-log rows with `at`, `outputs`, `label`)."""
    if window.empty:
        return []
    at = window["at"].to_numpy(dtype=float)
    edges = np.linspace(at.min(), at.max(), windows + 1) if at.max() > at.min() else np.array([at.min(), at.max()])
    bucket = np.clip(np.searchsorted(edges, at, side="right") - 1, 0, len(edges) - 2)
    calibrator = Calibrator.from_reference(model)
    out = []
    for k in range(len(edges) - 1):
        part = window[bucket == k]
        if len(part):
            out.append(_score(model, part, float(edges[k]), float(edges[k + 1]), calibrator, seed))
    return out


def overall_performance(model: Model, window: pd.DataFrame, *, seed: int = 0) -> WindowPerformance | None:
    """The whole window as one: the number alert rules compare with the champion's CV interval."""
    if window.empty:
        return None
    at = window["at"].to_numpy(dtype=float)
    return _score(model, window, float(at.min()), float(at.max()), Calibrator.from_reference(model), seed)


def probabilities(model: Model, outputs: pd.Series) -> np.ndarray:
    """The logged class probabilities as an n × classes matrix in the model's class order."""
    classes = [str(c) for c in model.classes_ or []]
    return np.array([[o["probabilities"][c] for c in classes] for o in outputs], dtype=float)


def _score(model: Model, part: pd.DataFrame, start: float, end: float, calibrator: Calibrator | None,
           seed: int) -> WindowPerformance:
    from kiln.evaluation.scores import metric_interval

    metric = performance_metric(model)
    y, pred, labelled = _labelled(model, part)
    value = low = high = None
    if labelled >= MIN_LABELLED and (model.task == "regression" or len(np.unique(y)) > 1):
        value, low, high = metric_interval(y, pred, model.task, metric, threshold=model.threshold, n_boot=500,
                                           seed=seed)
    estimated = None
    if model.task != "regression" and calibrator is not None:
        estimated = calibrator.expected(probabilities(model, part["outputs"]), metric)
    return WindowPerformance(start, end, len(part), labelled, metric, value, low, high, estimated)


def _labelled(model: Model, part: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int]:
    known = part[part["label"].notna()]
    if model.task == "regression":
        y = pd.to_numeric(known["label"], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(y)
        pred = np.array([o["prediction"] for o in known["outputs"]], dtype=float)
        return y[ok], pred[ok], int(ok.sum())
    codes = {str(c): i for i, c in enumerate(model.classes_ or [])}
    y = np.array([codes.get(_label_text(v), -1) for v in known["label"]], dtype=int)
    ok = y >= 0
    pred = probabilities(model, known["outputs"]) if len(known) else np.empty((0, len(codes)))
    return y[ok], pred[ok], int(ok.sum())


def _label_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class Calibrator:
    """Isotonic calibration of each class's probability, fitted on the reference's out-of-fold outputs."""

    models: list[Any]

    @classmethod
    def from_reference(cls, model: Model) -> Calibrator | None:
        reference = model.reference
        if reference is None or model.task == "regression" or "__target" not in reference:
            return None
        from sklearn.isotonic import IsotonicRegression

        classes = [str(c) for c in model.classes_ or []]
        target = reference["__target"].astype(str).to_numpy()
        fitted = []
        for c in classes:
            column = f"__final__proba_{c}"
            if column not in reference:
                return None
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            fitted.append(iso.fit(reference[column].to_numpy(dtype=float), (target == c).astype(float)))
        return cls(fitted)

    def calibrate(self, proba: np.ndarray) -> np.ndarray:
        calibrated = np.column_stack([m.predict(proba[:, i]) for i, m in enumerate(self.models)])
        total = calibrated.sum(axis=1, keepdims=True)
        return np.divide(calibrated, total, out=np.full_like(calibrated, 1 / calibrated.shape[1]), where=total > 0)

    def expected(self, proba: np.ndarray, metric: str) -> float | None:
        """The metric's expected value given calibrated probabilities (no labels needed)."""
        if len(proba) == 0:
            return None
        p = self.calibrate(proba)
        if metric == "accuracy":
            return float(np.mean(p.max(axis=1)))
        if metric == "roc_auc" and p.shape[1] == 2:
            return _expected_auc(p[:, 1])
        return None


def _expected_auc(positive: np.ndarray) -> float | None:
    """Expected ROC AUC: each row counts p as a positive and 1 − p as a negative, ranked by score
    (scikit-learn's ROC AUC of those weighted rows)."""
    from sklearn.metrics import roc_auc_score

    p = np.asarray(positive, dtype=float)
    if p.sum() <= 0 or (1 - p).sum() <= 0:
        return None
    n = len(p)
    return float(roc_auc_score(np.r_[np.ones(n), np.zeros(n)], np.r_[p, p], sample_weight=np.r_[p, 1 - p]))
