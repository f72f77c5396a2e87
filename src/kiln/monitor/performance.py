"""Live performance: real metrics from delayed labels, and an estimate before labels come.

Real: the labelled rows of each time window, scored with a 95% bootstrap interval.

Both are given for the metric the model was selected on (its CV metric, so that alerts
compare like with like) and, for classification, for accuracy beside it.

Estimated: confidence-based performance estimation (CBPE, as NannyML does it). The
model's probabilities are first calibrated on the reference (the training rows'
out-of-fold probabilities against their true labels, isotonic regression); a calibrated
probability p_c of class c means the row is of class c with chance p_c, so the expected
confusion matrix (each row adds p_c to the cell of true class c and the class the model
*predicts*), and from it the expected accuracy, F1, balanced accuracy, log loss and
binary ROC AUC, follow without a single label. The calibration is fitted on out-of-fold
outputs, not on the served model's outputs for the same rows: the served model was
refitted on those rows, so its outputs there are overconfident (calibrated on them, the
estimated AUC is near 1 whatever is realised). A served score is carried onto the
out-of-fold scale by rank first (see `Calibrator`), since the refit's scores are spread
differently from the fold models'; tests/unit/monitor/test_reference.py holds the
estimate within 0.02 AUC of the realised value on fresh AI4I-like rows. It
assumes the relation between features and label is unchanged (covariate shift only); a
gap between the estimate and the real value, once labels arrive, is itself a sign of
concept drift.
"""

from __future__ import annotations

import weakref
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from kiln.model import Model

MIN_LABELLED = 30  # fewer labelled rows in a window give no real value (the interval would be all of [0, 1])
# Fewer served rows give no CBPE estimate: it is an average over the window's rows, and over one
# or two rows it says nothing (one row's expected ROC AUC is 0.5, whatever the row).
MIN_ESTIMATED = 30
SLICE_BOOTSTRAP = 200  # resamples per time slice (drawn, not alerted on); the whole window gets 500
_PER_MODEL: dict[int, dict[str, Any]] = {}  # id(model) → what depends on the model only


def model_cache(model: Model) -> dict[str, Any]:
    """A per-model dict that goes away with the model (a server swaps models on promotion): what
    monitoring derives from the model alone (calibration, SHAP ranks, reference outputs) is made once."""
    key = id(model)
    if key not in _PER_MODEL:
        _PER_MODEL[key] = {}
        weakref.finalize(model, _PER_MODEL.pop, key, None)
    return _PER_MODEL[key]


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
    accuracy: float | None = None  # classification: accuracy beside the selection metric
    estimated_accuracy: float | None = None
    value_note: str | None = None  # why `value` is missing, in words a report can show
    estimate_note: str | None = None  # why `estimated` is missing

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def performance_metric(model: Model) -> str:
    """The metric tracked live: the one the model was selected on, so it compares with the CV interval."""
    return model.metric


def live_performance(model: Model, window: pd.DataFrame, *, windows: int = 6, seed: int = 0,
                     proba: np.ndarray | None = None) -> list[WindowPerformance]:
    """Performance per equal-width time window of `window` (prediction-log rows with `at`, `outputs`, `label`)."""
    if window.empty:
        return []
    at = window["at"].to_numpy(dtype=float)
    edges = np.linspace(at.min(), at.max(), windows + 1) if at.max() > at.min() else np.array([at.min(), at.max()])
    bucket = np.clip(np.searchsorted(edges, at, side="right") - 1, 0, len(edges) - 2)
    calibrator = _calibrator(model)
    if proba is None and model.task != "regression":
        proba = probabilities(model, window["outputs"])
    out = []
    for k in range(len(edges) - 1):
        chosen = bucket == k
        if chosen.any():
            out.append(_score(model, window[chosen], float(edges[k]), float(edges[k + 1]), calibrator, seed,
                              None if proba is None else proba[chosen], n_boot=SLICE_BOOTSTRAP))
    return out


def overall_performance(model: Model, window: pd.DataFrame, *, seed: int = 0,
                        proba: np.ndarray | None = None) -> WindowPerformance | None:
    """The whole window as one: the number alert rules compare with the champion's CV interval.

    `proba`: the window's probabilities when the caller has parsed them already."""
    if window.empty:
        return None
    at = window["at"].to_numpy(dtype=float)
    return _score(model, window, float(at.min()), float(at.max()), _calibrator(model), seed, proba)


def served_reference_outputs(model: Model) -> np.ndarray:
    """The served model's outputs on the reference rows (computed once per loaded model).

    What serving logs is the refitted model's output, so this, not the out-of-fold
    output of the fold models, is what served outputs are compared with.
    """
    cached = model_cache(model)
    if "outputs" not in cached:
        cached["outputs"] = np.asarray(model.predict_raw(model.reference[model.schema.names]))
    return cached["outputs"]


def _calibrator(model: Model) -> Calibrator | None:
    cached = model_cache(model)
    if "calibrator" not in cached:
        cached["calibrator"] = Calibrator.from_reference(model)
    return cached["calibrator"]


def probabilities(model: Model, outputs: pd.Series) -> np.ndarray:
    """The logged class probabilities as an n × classes matrix in the model's class order."""
    classes = [str(c) for c in model.classes_ or []]
    return np.array([[o["probabilities"][c] for c in classes] for o in outputs], dtype=float)


def _score(model: Model, part: pd.DataFrame, start: float, end: float, calibrator: Calibrator | None,
           seed: int, proba: np.ndarray | None = None, n_boot: int = 500) -> WindowPerformance:
    from kiln.evaluation.scores import metric_interval

    metric = performance_metric(model)
    if proba is None and model.task != "regression":
        proba = probabilities(model, part["outputs"])
    y, pred, labelled = _labelled(model, part, proba)
    value = low = high = accuracy = None
    value_note = _value_note(model, y, labelled)
    if value_note is None:
        value, low, high = metric_interval(y, pred, model.task, metric, threshold=model.threshold, n_boot=n_boot,
                                           seed=seed)
        if model.task != "regression":
            accuracy = float(np.mean(model._decide(pred) == y))
    estimated = estimated_accuracy = None
    estimate_note = _estimate_note(model, len(part), calibrator)
    if estimate_note is None and calibrator is not None:
        predicted = model._decide(proba) if len(proba) else np.empty(0, dtype=int)
        calibrated = calibrator.calibrate(proba) if len(proba) else None
        estimated = calibrator.expected(proba, metric, predicted, calibrated)
        estimated_accuracy = calibrator.expected(proba, "accuracy", predicted, calibrated)
    return WindowPerformance(start, end, len(part), labelled, metric, value, low, high, estimated, accuracy,
                             estimated_accuracy, value_note, estimate_note)


def _value_note(model: Model, y: np.ndarray, labelled: int) -> str | None:
    if labelled == 0:
        return "no labels yet"
    if labelled < MIN_LABELLED:
        return f"too few labelled rows ({labelled} < {MIN_LABELLED})"
    if model.task != "regression" and len(np.unique(y)) < 2:
        return "the labelled rows hold a single class"
    return None


def _estimate_note(model: Model, rows: int, calibrator: Calibrator | None) -> str | None:
    if model.task == "regression":
        return "CBPE estimates classification metrics only (it needs class probabilities)"
    if calibrator is None:
        return "no reference outputs to calibrate on (a bundle from before they were kept)"
    if rows < MIN_ESTIMATED:
        return f"too few rows ({rows} < {MIN_ESTIMATED})"
    return None


def _labelled(model: Model, part: pd.DataFrame, proba: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, int]:
    mask = part["label"].notna().to_numpy()
    known = part[mask]
    if model.task == "regression":
        y = pd.to_numeric(known["label"], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(y)
        pred = np.array([o["prediction"] for o in known["outputs"]], dtype=float)
        return y[ok], pred[ok], int(ok.sum())
    codes = {str(c): i for i, c in enumerate(model.classes_ or [])}
    y = np.array([codes.get(_label_text(v), -1) for v in known["label"]], dtype=int)
    ok = y >= 0
    pred = proba[mask] if proba is not None else np.empty((0, len(codes)))
    return y[ok], pred[ok], int(ok.sum())


def _label_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class Calibrator:
    """Calibration of each class's served probability, learnt from the reference.

    Isotonic regression of the true label on the out-of-fold probability (the only outputs
    of the reference that came from models that had not seen the row). The served model is
    the refit, whose scores are spread differently, so a served score is first carried onto
    the out-of-fold scale by rank: its quantile among the served model's outputs on the
    reference rows, read off the out-of-fold outputs of the same rows (`quantiles`).
    """

    models: list[Any]
    quantiles: list[tuple[np.ndarray, np.ndarray]] | None = None  # per class: (served sorted, out-of-fold sorted)

    @classmethod
    def from_reference(cls, model: Model) -> Calibrator | None:
        reference = model.reference
        if reference is None or model.task == "regression" or "__target" not in reference:
            return None
        from sklearn.isotonic import IsotonicRegression

        classes = [str(c) for c in model.classes_ or []]
        target = reference["__target"].astype(str).to_numpy()
        if any(f"__final__proba_{c}" not in reference for c in classes):
            return None
        served = served_reference_outputs(model)
        fitted, quantiles = [], []
        for i, c in enumerate(classes):
            oof = reference[f"__final__proba_{c}"].to_numpy(dtype=float)
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            fitted.append(iso.fit(oof, (target == c).astype(float)))
            quantiles.append((np.sort(served[:, i]), np.sort(oof)))
        return cls(fitted, quantiles)

    def calibrate(self, proba: np.ndarray) -> np.ndarray:
        if self.quantiles is not None:  # served scale → out-of-fold scale, by rank
            proba = np.column_stack([np.interp(proba[:, i], served, oof)
                                     for i, (served, oof) in enumerate(self.quantiles)])
        calibrated = np.column_stack([m.predict(proba[:, i]) for i, m in enumerate(self.models)])
        total = calibrated.sum(axis=1, keepdims=True)
        return np.divide(calibrated, total, out=np.full_like(calibrated, 1 / calibrated.shape[1]), where=total > 0)

    def expected(self, proba: np.ndarray, metric: str, predicted: np.ndarray | None = None,
                 calibrated: np.ndarray | None = None) -> float | None:
        """The metric's expected value given calibrated probabilities (no labels needed).

        `predicted` are the class codes the model serves (its stored threshold applied);
        by default the most probable class of the uncalibrated output. A row is right
        with the calibrated chance of the class it is predicted as, which is not the
        largest calibrated probability when calibration reorders the classes. `calibrated`:
        `calibrate(proba)`, when the caller has it already.
        """
        if len(proba) == 0:
            return None
        p = self.calibrate(proba) if calibrated is None else calibrated
        predicted = proba.argmax(axis=1) if predicted is None else np.asarray(predicted, dtype=int)
        k = p.shape[1]
        confusion = np.zeros((k, k))  # expected rows of true class c (row) predicted as j (column)
        for j in range(k):
            confusion[:, j] = p[predicted == j].sum(axis=0)
        true_total, predicted_total = confusion.sum(axis=1), confusion.sum(axis=0)
        diagonal = np.diag(confusion)
        if metric == "accuracy":
            return float(diagonal.sum() / len(p))
        if metric == "balanced_accuracy":
            present = true_total > 0
            return float(np.mean(diagonal[present] / true_total[present]))
        if metric == "f1":
            f1 = np.divide(2 * diagonal, true_total + predicted_total, out=np.zeros(k),
                           where=true_total + predicted_total > 0)
            return float(f1[1] if k == 2 else f1.mean())
        if metric == "log_loss":  # E[-log q_y] with y drawn from the calibrated probabilities
            return float(-np.mean(np.sum(p * np.log(np.clip(proba, 1e-15, 1.0)), axis=1)))
        if metric == "roc_auc" and k == 2:
            return _expected_auc(p[:, 1])
        if metric == "pr_auc" and k == 2:
            return _expected_average_precision(p[:, 1])
        return None


def _expected_average_precision(positive: np.ndarray) -> float | None:
    """Expected average precision, on the same weighted rows as `_expected_auc`."""
    from sklearn.metrics import average_precision_score

    p = np.asarray(positive, dtype=float)
    if p.sum() <= 0 or (1 - p).sum() <= 0:
        return None
    n = len(p)
    return float(average_precision_score(np.r_[np.ones(n), np.zeros(n)], np.r_[p, p], sample_weight=np.r_[p, 1 - p]))


def _expected_auc(positive: np.ndarray) -> float | None:
    """Expected ROC AUC: each row counts p as a positive and 1 − p as a negative, ranked by score
    (scikit-learn's ROC AUC of those weighted rows)."""
    from sklearn.metrics import roc_auc_score

    p = np.asarray(positive, dtype=float)
    if p.sum() <= 0 or (1 - p).sum() <= 0:
        return None
    n = len(p)
    return float(roc_auc_score(np.r_[np.ones(n), np.zeros(n)], np.r_[p, p], sample_weight=np.r_[p, 1 - p]))
