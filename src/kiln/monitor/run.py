"""`kiln monitor`: compare recent served traffic with the model's reference, and judge it.

Feature drift (statistics.py), prediction drift (the score distribution, or the predicted
classes), data-quality drift (quality.py), drift per feature over time, live and
estimated performance (performance.py), and the alert rules (alerts.py), in one result
that the CLI prints, the report draws and the server's /monitor returns.

The window is one version's traffic (the log is read by name and version), with the
previous version's window summarised beside it. Prediction drift compares served outputs
with the *served* model's outputs on the reference rows, not with the out-of-fold
outputs: those come from the fold models, whose scores are distributed differently from
the refitted model's, so unshifted traffic was flagged as drifted in most windows
(tests/unit/monitor/test_reference.py now holds false alarms to the test's α).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kiln.monitor.alerts import Alert, AlertRules
from kiln.monitor.performance import (
    WindowPerformance,
    live_performance,
    model_cache,
    overall_performance,
    probabilities,
    served_reference_outputs,
)
from kiln.monitor.quality import QualityDrift, quality_drift
from kiln.monitor.statistics import FeatureDrift, bin_codes, categorical_drift, drift_table, numeric_drift, psi
from kiln.monitor.text import watched_column
from kiln.monitor.window import TrafficWindow, previous_version

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
    sampled: int = 0  # rows the statistics were computed on (all of the window, or an even sample of it)
    rows_exact: bool = True  # False: `rows` is estimated from the sample
    previous: dict[str, Any] | None = None  # the previous version's window, summarised
    # per text column: n-grams never in the training sample that are frequent in the window (monitor.text)
    new_ngrams: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

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
                "until": self.until, "rows": self.rows, "rows_exact": self.rows_exact, "sampled": self.sampled,
                "labelled": self.labelled,
                "drifted": self.drifted,
                "features": [f.to_dict() for f in self.features],
                "prediction": self.prediction.to_dict() if self.prediction else None,
                "quality": [q.to_dict() for q in self.quality], "over_time": self.over_time,
                "performance": [p.to_dict() for p in self.performance],
                "overall": self.overall.to_dict() if self.overall else None, "cv": self.cv,
                "importance": self.importance, "alerts": [a.to_dict() for a in self.alerts],
                "previous": self.previous, "new_ngrams": self.new_ngrams}


def run_monitor(model: str, *, since: float | None = None, rules: AlertRules | None = None, url: str | None = None,
                windows: int = 6, max_rows: int | None = None) -> MonitorResult:
    """Monitor `model`: a registered name (its champion is the reference) or a bundle folder."""
    loaded, name, version = _reference_model(model)
    return monitor_version(loaded, name=name, version=version, since=since, rules=rules or AlertRules(), url=url,
                           windows=windows, max_rows=max_rows)


def monitor_version(model: Model, *, name: str, version: str, since: float | None, rules: AlertRules,
                    url: str | None = None, windows: int = 6, max_rows: int | None = None) -> MonitorResult:
    """`version`'s own window judged against its reference, with the previous version's window beside it.

    The model's kind (kiln.kinds) reads its traffic and judges it; nothing here branches on the kind.
    """
    from kiln.kinds import get

    monitoring = get(model.kind).hook("monitor")
    traffic = monitoring.traffic(name, model, version=version, since=since, url=url, max_rows=max_rows)
    result = monitoring.assess(model, traffic, name=name, version=version, since=since, rules=rules, windows=windows)
    before = previous_version(name, version, since=since, url=url)
    if before is not None:
        older = monitoring.traffic(name, model, version=before, since=since, url=url,
                                   max_rows=None if max_rows is None else max(max_rows // 4, 1))
        own = getattr(monitoring, "summarise", None)  # a kind whose traffic is not a table of rows summarises it
        result.previous = own(model, older, version=before) if own else summarise(model, older, version=before)
    return result


def summarise(model: Model, traffic: TrafficWindow, *, version: str) -> dict[str, Any]:
    """A version's window in brief: rows, labels, and its live performance (from its own logged outputs)."""
    overall = None
    if traffic.rows:
        try:
            overall = overall_performance(model, traffic.log)
        except (KeyError, ValueError):  # the other version has other classes: its outputs do not fit this model
            overall = None
    at = traffic.log["at"] if traffic.rows else pd.Series(dtype=float)
    return {"version": version, "rows": traffic.total, "rows_exact": traffic.exact, "sampled": traffic.rows,
            "labelled": int(traffic.log["label"].notna().sum()) if traffic.rows else 0,
            "first": float(at.min()) if traffic.rows else None, "last": float(at.max()) if traffic.rows else None,
            "overall": overall.to_dict() if overall else None}


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
    proba = probabilities(model, traffic.log["outputs"]) if enough and model.task != "regression" else None
    if enough and model.schema.of_kind("text"):  # out-of-vocabulary share, length, reject rate
        from kiln.monitor.text import text_drift

        features = features + text_drift(model, reference, traffic.features, proba)
    result = MonitorResult(
        name=name, version=version, since=since, until=time.time(), rows=traffic.total, sampled=traffic.rows,
        rows_exact=traffic.exact,
        labelled=int(traffic.log["label"].notna().sum()) if enough else 0, features=features,
        prediction=_prediction_drift(model, traffic, proba) if enough else None,
        quality=quality_drift(traffic.features, model.schema, model.manifest.get("reference", {})) if enough else [],
        over_time=_over_time(reference, traffic, kinds, windows) if enough else {},
        performance=live_performance(model, traffic.log, windows=windows, proba=proba) if enough else [],
        overall=overall_performance(model, traffic.log, proba=proba) if enough else None,
        cv={"metric": cv.get("metric"), "score": cv.get("score"), "low": cv.get("ci_low"), "high": cv.get("ci_high")},
        importance=_importance(model), rules=rules)
    texts = model.schema.of_kind("text")
    if enough and texts:
        from kiln.monitor.text import new_frequent_ngrams

        result.new_ngrams = {name: [{"ngram": gram, "messages": n, "share": n / traffic.rows} for gram, n in grams]
                             for name, grams in new_frequent_ngrams(model, reference, traffic.features).items()}
    result.alerts = _alerts(result, model.task, texts)
    return result


def _reference_model(model: str) -> tuple[Model, str, str]:
    from kiln.bundle import bundle_version, load_bundle

    if Path(model).exists():
        return load_bundle(model), Path(model).resolve().name, bundle_version(Path(model))
    from kiln.store.registry import resolve

    resolved = resolve(model if model.startswith("models:/") else f"models:/{model}@champion")
    return load_bundle(resolved.path), resolved.name or model, resolved.version or "?"


def _prediction_drift(model: Model, traffic: TrafficWindow, current: np.ndarray | None = None) -> FeatureDrift | None:
    reference = served_reference_outputs(model)
    if model.task == "regression":
        current = np.array([o["prediction"] for o in traffic.log["outputs"]], dtype=float)
        return numeric_drift("prediction", reference.reshape(-1), current)
    classes = [str(c) for c in model.classes_ or []]
    current = probabilities(model, traffic.log["outputs"]) if current is None else current
    if model.task == "binary":
        return numeric_drift(f"P({classes[1]})", reference[:, 1], current[:, 1])
    return categorical_drift("predicted class", np.asarray(classes)[model._decide(reference)],
                             np.asarray(classes)[model._decide(current)])


def _over_time(reference: pd.DataFrame, traffic: TrafficWindow, kinds: dict[str, str],
               windows: int) -> dict[str, list[dict[str, float]]]:
    """PSI of each feature in each of `windows` equal time slices of the window."""
    at = traffic.log["at"].to_numpy(dtype=float)
    edges = np.linspace(at.min(), at.max(), windows + 1) if at.max() > at.min() else np.array([at.min(), at.max()])
    bucket = np.clip(np.searchsorted(edges, at, side="right") - 1, 0, len(edges) - 2)
    out: dict[str, list[dict[str, float]]] = {name: [] for name in kinds}
    for name, kind in kinds.items():
        ref_codes, cur_codes, n_bins = bin_codes(name, reference[name], traffic.features[name], kind)
        ref_counts = np.bincount(ref_codes[ref_codes >= 0], minlength=n_bins)
        for k in range(len(edges) - 1):
            part = cur_codes[bucket == k]
            if len(part):
                value = psi(ref_counts, np.bincount(part[part >= 0], minlength=n_bins))
                out[name].append({"start": float(edges[k]), "psi": value, "rows": float(len(part))})
    return out


def _importance(model: Model) -> dict[str, float]:
    """Mean |SHAP| per input column on reference rows (once per loaded model: it depends on nothing else)."""
    cached = model_cache(model)
    if "importance" not in cached:
        cached["importance"] = _shap_importance(model)
    return dict(cached["importance"])


def _shap_importance(model: Model) -> dict[str, float]:
    """Mean |SHAP| per input column on reference rows; empty when no tree member can be explained."""
    from kiln.evaluation.explain import BASE_VALUE, shap_contributions

    rows = model.reference[model.schema.names].head(IMPORTANCE_ROWS)
    try:
        contributions = shap_contributions(model, rows).drop(columns=[BASE_VALUE])
    except Exception:  # no explainable member: rank nothing, watch every feature
        return {}
    ranked = contributions.abs().mean().sort_values(ascending=False)
    return {str(k): float(v) for k, v in ranked.items()}


def _alerts(result: MonitorResult, task: str, texts: list[str] | None = None) -> list[Alert]:
    rules = result.rules
    if result.rows < rules.min_rows:
        return []
    alerts = []
    watched = list(result.importance)[: rules.top_features] or [f.column for f in result.features]
    for drift in result.features:
        source = watched_column(drift.column, texts) if texts else None
        if source is not None:  # a text row: watched with its column (SHAP ranks the column, not the row)
            if (source == "answers" or source in watched or not result.importance) \
                    and drift.psi > rules.psi_threshold and drift.drifted:
                alerts.append(_drift_alert("text_drift", f"'{drift.column}' drifted", drift, rules))
            continue
        if drift.column in watched and drift.psi > rules.psi_threshold and drift.drifted:
            alerts.append(_drift_alert("psi_top_feature", f"'{drift.column}' (a top-{rules.top_features} feature) "
                                       "drifted", drift, rules))
    if texts:
        alerts += _text_alerts(result)
    performance = _performance_alert(result, task)
    return alerts + ([performance] if performance else [])


def _drift_alert(rule: str, what: str, drift: FeatureDrift, rules: AlertRules) -> Alert:
    return Alert(rule, f"{what}: PSI {drift.psi:.2f} > {rules.psi_threshold:g} ({drift.test} effect "
                 f"{drift.effect:.2f}, p={drift.p_value:.1e}).", drift.psi, rules.psi_threshold)


def _text_alerts(result: MonitorResult) -> list[Alert]:
    """A text model's own rules: the predicted-label distribution moved, or a new topic (an n-gram
    never in training in NEW_NGRAM_ALERT_SHARE of the messages)."""
    from kiln.monitor.text import NEW_NGRAM_ALERT_SHARE

    rules, alerts = result.rules, []
    drift = result.prediction
    if drift is not None and drift.drifted and drift.psi > rules.psi_threshold:
        alerts.append(_drift_alert("text_drift", f"The served '{drift.column}' distribution drifted", drift, rules))
    for column, grams in result.new_ngrams.items():
        if grams and grams[0]["share"] >= NEW_NGRAM_ALERT_SHARE:
            top = grams[0]
            alerts.append(Alert("text_new_ngrams", f"'{top['ngram']}' is in {top['share']:.0%} of the served "
                                f"'{column}' messages ({top['messages']:,}) and never in training: a new topic the "
                                "model has not learned.", top["share"], NEW_NGRAM_ALERT_SHARE))
    return alerts


def _performance_alert(result: MonitorResult, task: str) -> Alert | None:
    """Live (or, before labels, estimated) performance worse than the CV interval, in the metric's direction.

    With labels, the whole live 95% interval must be worse than the CV interval's worse
    end (for AUC: its upper end below the CV lower bound; for RMSE or log loss: its lower
    end above the CV upper bound), so that a window doing as well as CV does not alert by
    chance; the CBPE estimate has no interval and is compared as a point.
    """
    from kiln.evaluation.metrics import get_metric

    overall, name = result.overall, result.cv.get("metric")
    low, high = result.cv.get("low"), result.cv.get("high")
    if not result.rules.performance_below_cv or overall is None or name != overall.metric or None in (low, high):
        return None
    metric = get_metric(name, task)  # type: ignore[arg-type]
    bound = min(low, high) if metric.greater_is_better else max(low, high)
    side = "below the champion's CV lower bound" if metric.greater_is_better else \
        "above the champion's CV upper bound"
    if overall.value is not None:
        best_end = overall.ci_high if metric.greater_is_better else overall.ci_low
        if best_end is not None and metric.better(bound, best_end):
            end = "up to" if metric.greater_is_better else "down to"
            return Alert("live_below_cv", f"Live {name} {overall.value:.3f} (95% CI {end} {best_end:.3f}, "
                         f"{overall.labelled:,} labelled rows) is {side} {bound:.3f}.", overall.value, bound)
    elif overall.estimated is not None and metric.better(bound, overall.estimated):
        return Alert("estimated_below_cv", f"Estimated {name} {overall.estimated:.3f} (CBPE, no labels yet) is "
                     f"{side} {bound:.3f}.", overall.estimated, bound)
    return None
