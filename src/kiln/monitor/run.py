"""`kiln monitor`: compare recent served traffic with the model's reference, and judge it.

Feature drift (statistics.py), prediction drift (the score distribution, or the predicted
classes), data-quality drift (quality.py), drift per feature over time, live and
estimated performance (performance.py), and the alert rules (alerts.py), in one result
that the CLI prints, the report draws and the server's /monitor returns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kiln.monitor.alerts import Alert, AlertRules
from kiln.monitor.performance import WindowPerformance, live_performance, overall_performance, probabilities
from kiln.monitor.quality import QualityDrift, quality_drift
from kiln.monitor.statistics import FeatureDrift, categorical_drift, drift_table, numeric_drift
from kiln.monitor.window import TrafficWindow

if TYPE_CHECKING:
    from kiln.model import Model

IMPORTANCE_ROWS = 300  # reference rows explained to rank features


@dataclass
class MonitorResult:
    """Everything one monitoring run found; `status` is ok, alert, or no data."""

    name: str
    version: str
    since: float | None
    until: float
    rows: int
    labelled: int
    features: list[FeatureDrift]
    prediction: FeatureDrift | None
    quality: list[QualityDrift]
    over_time: dict[str, list[dict[str, float]]]
    performance: list[WindowPerformance]
    overall: WindowPerformance | None
    cv: dict[str, Any]
    importance: dict[str, float]
    rules: AlertRules
    alerts: list[Alert] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.rows < self.rules.min_rows:
            return "no data"
        return "alert" if self.alerts else "ok"

    @property
    def drifted(self) -> list[str]:
        return [f.column for f in self.features if f.drifted]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "status": self.status, "since": self.since,
                "until": self.until, "rows": self.rows, "labelled": self.labelled, "drifted": self.drifted,
                "features": [f.to_dict() for f in self.features],
                "prediction": self.prediction.to_dict() if self.prediction else None,
                "quality": [q.to_dict() for q in self.quality], "over_time": self.over_time,
                "performance": [p.to_dict() for p in self.performance],
                "overall": self.overall.to_dict() if self.overall else None, "cv": self.cv,
                "importance": self.importance, "alerts": [a.to_dict() for a in self.alerts]}


def run_monitor(model: str, *, since: float | None = None, rules: AlertRules | None = None, url: str | None = None,
                windows: int = 6) -> MonitorResult:
    """Monitor `model`: a registered name (its champion is the reference) or a bundle folder."""
    from kiln.kinds import get

    loaded, name, version = _reference_model(model)
    monitoring = get(loaded.kind).hook("monitor")  # the model's kind judges its own traffic
    traffic = monitoring.traffic(name, loaded, since=since, url=url)
    return monitoring.assess(loaded, traffic, name=name, version=version, since=since, rules=rules or AlertRules(),
                             windows=windows)


def assess(model: Model, traffic: TrafficWindow, *, name: str, version: str, since: float | None,
           rules: AlertRules, windows: int = 6) -> MonitorResult:
    """Judge a tabular model's `traffic` against its reference (the tabular kind's monitor hook)."""
    from kiln.errors import BundleError

    reference = model.reference
    if reference is None:
        raise BundleError(f"Model '{name}' has no reference sample (trained by an older kiln); retrain it to monitor.")
    kinds = {c.name: c.kind for c in model.schema.columns if c.kind in ("numeric", "categorical", "boolean")}
    enough = traffic.rows >= 1
    features = drift_table(reference, traffic.features, kinds) if enough else []
    cv = model.manifest.get("cv", {})
    result = MonitorResult(
        name=name, version=version, since=since, until=time.time(), rows=traffic.rows,
        labelled=int(traffic.log["label"].notna().sum()) if enough else 0, features=features,
        prediction=_prediction_drift(model, traffic) if enough else None,
        quality=quality_drift(traffic.features, model.schema, model.manifest.get("reference", {})) if enough else [],
        over_time=_over_time(reference, traffic, kinds, windows) if enough else {},
        performance=live_performance(model, traffic.log, windows=windows) if enough else [],
        overall=overall_performance(model, traffic.log) if enough else None,
        cv={"metric": cv.get("metric"), "score": cv.get("score"), "low": cv.get("ci_low"), "high": cv.get("ci_high")},
        importance=_importance(model), rules=rules)
    result.alerts = _alerts(result)
    return result


def _reference_model(model: str) -> tuple[Model, str, str]:
    from kiln.bundle import bundle_version, load_bundle

    if Path(model).exists():
        return load_bundle(model), Path(model).resolve().name, bundle_version(Path(model))
    from kiln.store.registry import resolve

    resolved = resolve(model if model.startswith("models:/") else f"models:/{model}@champion")
    return load_bundle(resolved.path), resolved.name or model, resolved.version or "?"


def _prediction_drift(model: Model, traffic: TrafficWindow) -> FeatureDrift | None:
    reference = model.reference
    if model.task == "regression":
        current = np.array([o["prediction"] for o in traffic.log["outputs"]], dtype=float)
        return numeric_drift("prediction", reference["__final__prediction"].to_numpy(), current)
    classes = [str(c) for c in model.classes_ or []]
    ref_proba = reference[[f"__final__proba_{c}" for c in classes]].to_numpy(dtype=float)
    current = probabilities(model, traffic.log["outputs"])
    if model.task == "binary":
        return numeric_drift(f"P({classes[1]})", ref_proba[:, 1], current[:, 1])
    return categorical_drift("predicted class", np.asarray(classes)[ref_proba.argmax(axis=1)],
                             np.asarray(classes)[current.argmax(axis=1)])


def _over_time(reference: pd.DataFrame, traffic: TrafficWindow, kinds: dict[str, str],
               windows: int) -> dict[str, list[dict[str, float]]]:
    """PSI of each feature in each of `windows` equal time slices of the window."""
    at = traffic.log["at"].to_numpy(dtype=float)
    edges = np.linspace(at.min(), at.max(), windows + 1) if at.max() > at.min() else np.array([at.min(), at.max()])
    bucket = np.clip(np.searchsorted(edges, at, side="right") - 1, 0, len(edges) - 2)
    out: dict[str, list[dict[str, float]]] = {name: [] for name in kinds}
    for k in range(len(edges) - 1):
        part = traffic.features[bucket == k]
        if len(part) == 0:
            continue
        for drift in drift_table(reference, part, kinds):
            out[drift.column].append({"start": float(edges[k]), "psi": drift.psi, "rows": float(len(part))})
    return out


def _importance(model: Model) -> dict[str, float]:
    """Mean |SHAP| per input column on reference rows; empty when no tree member can be explained."""
    from kiln.evaluation.explain import BASE_VALUE, shap_contributions

    rows = model.reference[model.schema.names].head(IMPORTANCE_ROWS)
    try:
        contributions = shap_contributions(model, rows).drop(columns=[BASE_VALUE])
    except Exception:  # no explainable member: rank nothing, watch every feature
        return {}
    ranked = contributions.abs().mean().sort_values(ascending=False)
    return {str(k): float(v) for k, v in ranked.items()}


def _alerts(result: MonitorResult) -> list[Alert]:
    rules = result.rules
    if result.rows < rules.min_rows:
        return []
    alerts = []
    watched = list(result.importance)[: rules.top_features] or [f.column for f in result.features]
    for drift in result.features:
        if drift.column in watched and drift.psi > rules.psi_threshold and drift.drifted:
            alerts.append(Alert("psi_top_feature", f"'{drift.column}' (a top-{rules.top_features} feature) drifted: "
                                f"PSI {drift.psi:.2f} > {rules.psi_threshold:g} ({drift.test} effect "
                                f"{drift.effect:.2f}, p={drift.p_value:.1e}).", drift.psi, rules.psi_threshold))
    low, metric = result.cv.get("low"), result.cv.get("metric")
    overall = result.overall
    if rules.performance_below_cv and overall is not None and low is not None and metric == overall.metric:
        if overall.value is not None and overall.value < low:
            alerts.append(Alert("live_below_cv", f"Live {metric} {overall.value:.3f} (95% CI up to "
                                f"{overall.ci_high:.3f}, {overall.labelled:,} labelled rows) is below the champion's "
                                f"CV lower bound {low:.3f}.", overall.value, low))
        elif overall.value is None and overall.estimated is not None and overall.estimated < low:
            alerts.append(Alert("estimated_below_cv", f"Estimated {metric} {overall.estimated:.3f} (CBPE, no labels "
                                f"yet) is below the champion's CV lower bound {low:.3f}.", overall.estimated, low))
    return alerts
