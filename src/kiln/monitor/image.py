"""The image kind's monitor hook: drift of image statistics and of the predicted class, live accuracy.

The server logs, for each image it answers, its statistics (kiln.vision.stats: brightness, contrast,
sharpness, width, height, aspect, colour share) as the logged "inputs", with the prediction and the
probabilities. The reference is the training images' statistics and out-of-fold predicted classes
(the bundle's reference.parquet). Each statistic gets the KS test with its effect size (KS D) and PSI,
the predicted class chi-squared with Cramér's V (kiln.monitor.statistics: drifted = p < alpha and effect
≥ threshold). Feedback labels (POST /feedback) give live accuracy with a 95% bootstrap interval.
Alerts: a statistic or the predicted class drifted with PSI above the rule's threshold; live accuracy
whose whole interval lies below the cross-validated accuracy.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from kiln.data.schema import Column, Schema
from kiln.monitor.alerts import Alert, AlertRules
from kiln.monitor.performance import WindowPerformance
from kiln.monitor.run import MonitorResult
from kiln.monitor.statistics import categorical_drift, numeric_drift
from kiln.monitor.window import TrafficWindow, read_window
from kiln.vision.stats import STATISTICS

BOOTSTRAP = 500


def statistics_schema() -> Schema:
    """The logged inputs of an image request, as a schema the prediction-log reader understands."""
    return Schema(columns=[Column(name, "numeric", nullable=True) for name in STATISTICS], dropped={})


class ImageMonitoring:
    """Traffic rows are the served images' statistics; the reference is the training images'."""

    def traffic(self, name: str, model: Any, *, version: str | None = None, since: float | None = None,
                url: str | None = None, max_rows: int | None = None) -> TrafficWindow:
        return read_window(name, statistics_schema(), version=version, since=since, url=url, max_rows=max_rows)

    def assess(self, model: Any, traffic: TrafficWindow, *, name: str, version: str, since: float | None,
               rules: AlertRules, windows: int = 6, **options: Any) -> MonitorResult:
        return assess_images(model, traffic, name=name, version=version, since=since, rules=rules)


def _predicted(outputs: pd.Series) -> list[str]:
    """The predicted class of each logged row (its `prediction` output)."""
    return [str(o.get("prediction")) if isinstance(o, dict) else str(o) for o in outputs]


def live_accuracy(predicted: list[str], labels: pd.Series, *, seed: int = 0) -> tuple[float, float, float, int]:
    """Accuracy on the labelled rows with a 95% bootstrap interval, and how many rows had a label."""
    mask = labels.notna().to_numpy()
    if not mask.any():
        return float("nan"), float("nan"), float("nan"), 0
    right = np.array([p == str(v) for p, v in zip(np.asarray(predicted, dtype=object)[mask], labels[mask],
                                                   strict=True)], dtype=float)
    rng = np.random.default_rng(seed)
    draws = [right[rng.integers(0, len(right), len(right))].mean() for _ in range(BOOTSTRAP)]
    low, high = np.quantile(draws, [0.025, 0.975])
    return float(right.mean()), float(low), float(high), int(mask.sum())


def assess_images(model: Any, traffic: TrafficWindow, *, name: str, version: str, since: float | None,
                  rules: AlertRules) -> MonitorResult:
    from kiln.errors import BundleError

    reference = model.reference
    if reference is None:
        raise BundleError(f"Model '{name}' has no reference statistics; retrain it to monitor.")
    enough = traffic.rows >= 1
    features = [numeric_drift(stat, reference[stat], traffic.features[stat]) for stat in STATISTICS] if enough else []
    predicted = _predicted(traffic.log["outputs"]) if enough else []
    prediction = categorical_drift("predicted class", reference["__predicted"].astype(str), predicted) \
        if enough else None
    cv = model.manifest.get("cv", {})
    overall = None
    labelled = 0
    if enough:
        value, low, high, labelled = live_accuracy(predicted, traffic.log["label"])
        at = traffic.log["at"]
        overall = WindowPerformance(float(at.min()), float(at.max()), traffic.rows, labelled, "accuracy",
                                    None if labelled == 0 else value, None if labelled == 0 else low,
                                    None if labelled == 0 else high, None,
                                    accuracy=None if labelled == 0 else value,
                                    value_note=None if labelled else "no feedback labels yet")
    result = MonitorResult(
        name=name, version=version, since=since, until=time.time(), rows=traffic.total, sampled=traffic.rows,
        rows_exact=traffic.exact, labelled=labelled, features=features, prediction=prediction, quality=[],
        over_time={}, performance=[overall] if overall else [], overall=overall,
        cv={"metric": cv.get("metric"), "score": cv.get("score"), "low": cv.get("ci_low"), "high": cv.get("ci_high"),
            "accuracy": _cv_accuracy(reference)},
        importance={}, rules=rules)
    result.alerts = _alerts(result)
    return result


def _cv_accuracy(reference: pd.DataFrame) -> float:
    return float((reference["__predicted"].astype(str) == reference["__target"].astype(str)).mean())


def _alerts(result: MonitorResult) -> list[Alert]:
    rules = result.rules
    if result.rows < rules.min_rows:
        return []
    alerts = []
    for drift in [*result.features, *([result.prediction] if result.prediction else [])]:
        if drift.drifted and drift.psi > rules.psi_threshold:
            alerts.append(Alert("image_drift", f"{drift.column} drifted: PSI {drift.psi:.2f} > "
                                f"{rules.psi_threshold:g} ({drift.test} effect {drift.effect:.2f}, "
                                f"p={drift.p_value:.1e}).", drift.psi, rules.psi_threshold))
    overall, expected = result.overall, result.cv.get("accuracy")
    if rules.performance_below_cv and overall is not None and overall.ci_high is not None and expected is not None \
            and overall.ci_high < expected:
        alerts.append(Alert("accuracy_below_cv", f"live accuracy {overall.value:.3f} [{overall.ci_low:.3f}, "
                            f"{overall.ci_high:.3f}] on {overall.labelled} labelled images is below the "
                            f"cross-validated {expected:.3f}.", float(overall.value or 0.0), expected))
    return alerts


MONITORING = ImageMonitoring()
