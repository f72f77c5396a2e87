"""The monitoring report: drift per feature (now and over time), predictions, data quality and
live performance, as one self-contained page for a reader deciding whether to retrain."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from kiln.report.html import Html, Section, badge, figure, paragraph, render_page, table

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from kiln.monitor.run import MonitorResult
    from kiln.monitor.statistics import FeatureDrift

MAX_FEATURE_CHARTS = 12
_LAYOUT: dict[str, Any] = {"template": "none", "height": 340, "margin": {"l": 60, "r": 20, "t": 60, "b": 80},
                           "font": {"family": "system-ui, sans-serif", "size": 12}}
_REFERENCE, _CURRENT, _ESTIMATE = "#3b6ea5", "#c0392b", "#8e6bbf"


def render_drift(result: MonitorResult) -> str:
    text = [_new_ngrams(result)] if getattr(result, "new_ngrams", None) else []  # a model reading text
    sections = [_summary(result), _features(result), *text, _over_time(result), _prediction(result),
                _quality(result), _performance(result)]
    window = f"{_when(result.since) if result.since else 'all logged traffic'} → {_when(result.until)}"
    return render_page(f"Monitoring of {result.name}", sections,
                       subtitle=f"version {result.version} · {result.rows:,} served rows · {window}")


def _summary(result: MonitorResult) -> Section:
    tone = {"ok": "ok", "alert": "error", "no data": "warning"}[result.status]
    facts = [("Status", badge(result.status, tone)), ("Served rows", result.rows), ("Labelled rows", result.labelled),
             ("Drifted features", ", ".join(result.drifted) or "none"),
             ("Champion CV", _cv(result.cv))]
    body = table([{"fact": k, "value": v} for k, v in facts], ["fact", "value"], headers={"fact": "", "value": ""})
    body = Html(body + _versions(result))
    alerts = [{"rule": a.rule, "message": a.message} for a in result.alerts]
    if alerts:
        body = Html(body + table(alerts, ["rule", "message"]))
    elif result.status == "no data":
        body = Html(body + paragraph(f"Fewer than {result.rules.min_rows} served rows: no verdict yet."))
    intro = ("The verdict of the alert rules on this version's window of served traffic (the previous version's "
             "window is shown beside it, not pooled with it). A feature is flagged when its test is "
             "significant AND its effect size is at least small (KS D ≥ 0.1, Cramér's V ≥ 0.1): with many rows, "
             "p-values alone flag differences too small to matter.")
    return Section("Summary", intro, body)


def _versions(result: MonitorResult) -> str:
    """This version's window beside the previous version's: traffic is judged per version."""
    def row(version: str, rows: int, exact: bool, sampled: int, labelled: int, overall: dict[str, Any] | None,
            which: str) -> dict[str, Any]:
        overall = overall or {}
        return {"version": f"{version} ({which})", "served rows": f"{rows:,}" if exact else f"≈{rows:,}",
                "rows assessed": sampled, "labelled": labelled, "metric": overall.get("metric") or "—",
                "real": _or_why(overall.get("value"), overall.get("value_note")),
                "estimated (CBPE)": _or_why(overall.get("estimated"), overall.get("estimate_note")),
                "accuracy": overall.get("accuracy")}

    current = result.overall.to_dict() if result.overall else None
    rows = [row(result.version, result.rows, result.rows_exact, result.sampled, result.labelled, current, "judged")]
    if result.previous:
        p = result.previous
        rows.append(row(p["version"], p["rows"], p["rows_exact"], p["sampled"], p["labelled"], p["overall"],
                        "previous"))
    return table(rows, list(rows[0]))


def _features(result: MonitorResult) -> Section:
    rank = {name: i + 1 for i, name in enumerate(result.importance)}
    ordered = sorted(result.features, key=lambda f: (not f.drifted, -f.psi))
    rows = [{"feature": f.column, "importance rank": rank.get(f.column, "—"), "test": f.test,
             "statistic": f.statistic, "p-value": f.p_value, "effect": f.effect, "PSI": f.psi,
             "JS distance": f.js_distance, "severity": badge(f.severity, _tone(f.severity)),
             "drifted": badge("yes", "error") if f.drifted else "no", "note": f.note}
            for f in ordered]
    charts = [figure(_shares_figure(f), div_id=f"figure-drift-{i}") for i, f in enumerate(ordered[:MAX_FEATURE_CHARTS])]
    intro = ("Each feature's served values against the training reference, on the reference's bins. KS tests numbers, "
             "chi-squared tests categories; the effect size (KS D or Cramér's V) decides together with the p-value. "
             "PSI below 0.1 is no real change, 0.1–0.2 moderate, above 0.2 major.")
    body = Html(table(rows, list(rows[0]) if rows else ["feature"]) + "".join(charts)) if rows else paragraph(
        "No served rows in this window.")
    return Section("Feature drift", intro, body)


def _new_ngrams(result: MonitorResult) -> Section:
    from kiln.monitor.text import NEW_NGRAM_ALERT_SHARE

    rows = [{"text column": column, "n-gram": g["ngram"], "messages": g["messages"], "share": f"{g['share']:.1%}"}
            for column, grams in result.new_ngrams.items() for g in grams]
    intro = ("Words and word pairs frequent in the served messages (in at least 1% of them, and 3) that the "
             "training sample never had: new products, new error codes, a new kind of request, or another "
             f"language. One in {NEW_NGRAM_ALERT_SHARE:.0%} of the messages or more alerts: the model has not "
             "learned it, so label some of those messages and retrain.")
    body = table(rows, ["text column", "n-gram", "messages", "share"]) if rows else paragraph(
        "No frequent n-gram in the served messages is new to training.")
    return Section("New n-grams in text", intro, body)


def _over_time(result: MonitorResult) -> Section:
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, points in result.over_time.items():
        if points:
            fig.add_trace(go.Scatter(x=[_when(p["start"]) for p in points], y=[p["psi"] for p in points],
                                     mode="lines+markers", name=name))
    fig.add_hline(y=result.rules.psi_threshold, line_dash="dash", line_color="#999",
                  annotation_text=f"alert at PSI {result.rules.psi_threshold:g}")
    fig.update_layout(**_LAYOUT, title="PSI per feature over time", yaxis_title="PSI", xaxis_title="window start")
    intro = "The PSI of every feature in equal slices of the window: drift that starts at one time shows as a step."
    return Section("Drift over time", intro, figure(fig, div_id="figure-drift-over-time") if result.over_time
                   else paragraph("No served rows in this window."))


def _prediction(result: MonitorResult) -> Section:
    intro = ("The model's outputs on served rows against its out-of-fold outputs on the training reference. A shift "
             "here means the model now sees a different mix of cases, even before any label arrives.")
    drift = result.prediction
    if drift is None:
        return Section("Prediction drift", intro, paragraph("No served rows in this window."))
    facts = table([{"output": drift.column, "test": drift.test, "effect": drift.effect, "p-value": drift.p_value,
                    "PSI": drift.psi, "drifted": "yes" if drift.drifted else "no"}],
                  ["output", "test", "effect", "p-value", "PSI", "drifted"])
    return Section("Prediction drift", intro, Html(facts + figure(_shares_figure(drift), div_id="figure-prediction")))


def _quality(result: MonitorResult) -> Section:
    rows = [{"column": q.column, "missing in training": q.missing_reference, "missing now": q.missing_current,
             "unseen categories": q.unseen_categories, "out of range": q.out_of_range,
             "flagged": badge("yes", "warning") if q.flagged else "no"} for q in result.quality]
    intro = ("What the data contract counted on served rows: more missing values than in training, categories "
             "training never saw, numbers outside the training range. These are accepted, but a rise means an "
             "upstream change.")
    return Section("Data quality", intro, table(rows, list(rows[0])) if rows else paragraph("No served rows."))


def _performance(result: MonitorResult) -> Section:
    import plotly.graph_objects as go

    parts = result.performance
    intro = ("Real performance from delayed labels (POST /feedback, `kiln feedback`) with 95% bootstrap intervals, "
             "and the CBPE estimate from calibrated probabilities, available before any label. The band is the "
             "champion's cross-validated interval. A window needs 30 labelled rows for a real value and 30 served "
             "rows for an estimate; CBPE estimates classification metrics only, so a regression model shows none.")
    if not parts:
        return Section("Live performance", intro, paragraph("No served rows in this window."))
    metric = parts[0].metric
    x = [_when(p.start) for p in parts]
    fig = go.Figure()
    real = [(xi, p) for xi, p in zip(x, parts, strict=True) if p.value is not None]
    if real:
        fig.add_trace(go.Scatter(x=[r[0] for r in real], y=[r[1].value for r in real], mode="markers+lines",
                                 name=f"real {metric}", line_color=_CURRENT, error_y={
                                     "type": "data", "symmetric": False,
                                     "array": [r[1].ci_high - r[1].value for r in real],
                                     "arrayminus": [r[1].value - r[1].ci_low for r in real]}))
    estimated = [(xi, p.estimated) for xi, p in zip(x, parts, strict=True) if p.estimated is not None]
    if estimated:
        fig.add_trace(go.Scatter(x=[e[0] for e in estimated], y=[e[1] for e in estimated], mode="markers+lines",
                                 name=f"estimated {metric} (CBPE)", line={"color": _ESTIMATE, "dash": "dot"}))
    if result.cv.get("metric") == metric and result.cv.get("low") is not None:
        fig.add_hrect(y0=result.cv["low"], y1=result.cv["high"], fillcolor=_REFERENCE, opacity=0.12, line_width=0,
                      annotation_text="champion CV 95% interval")
    fig.update_layout(**_LAYOUT, title=f"{metric} per window", yaxis_title=metric, xaxis_title="window start")
    rows = [{"window start": _when(p.start), "rows": p.rows, "labelled": p.labelled,
             "real": _or_why(p.value, p.value_note),
             "95% CI": f"[{p.ci_low:.3f}, {p.ci_high:.3f}]" if p.ci_low is not None else "—",
             "estimated (CBPE)": _or_why(p.estimated, p.estimate_note), "accuracy": p.accuracy,
             "estimated accuracy": p.estimated_accuracy} for p in parts]
    body = Html(figure(fig, div_id="figure-performance") + table(rows, list(rows[0])))
    return Section("Live performance", intro, body)


def _or_why(value: float | None, why: str | None) -> Any:
    """A number, or — with the reason it is missing (too few rows, classification only)."""
    if value is not None:
        return value
    return f"— ({why})" if why else "—"


def _shares_figure(drift: FeatureDrift) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure([go.Bar(x=drift.bins, y=drift.reference_shares, name="training reference", marker_color=_REFERENCE),
                     go.Bar(x=drift.bins, y=drift.current_shares, name="served", marker_color=_CURRENT)])
    verdict = "drifted" if drift.drifted else "no drift"
    fig.update_layout(**_LAYOUT, barmode="group", yaxis_title="share of rows",
                      title=f"{drift.column}: {verdict} (PSI {drift.psi:.2f}, effect {drift.effect:.2f})")
    return fig


def _tone(severity: str) -> str:
    return {"major": "error", "moderate": "warning"}.get(severity, "ok")


def _cv(cv: dict[str, Any]) -> str:
    if cv.get("score") is None:
        return "—"
    return f"{cv['metric']} {cv['score']:.4f} [{cv['low']:.4f}, {cv['high']:.4f}]"


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
