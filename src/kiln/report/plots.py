"""Plotly figures of an evaluation, each a function of plain arrays so it is testable alone.

A report embeds every figure's data, so each is kept small whatever the rows: curves
are thinned to `MAX_CURVE_POINTS`, scatters sampled to `MAX_SCATTER_POINTS`, and
distributions pre-binned; values go out as float32, which Plotly writes as compact
base64 typed arrays. User text (class, feature and model names) is escaped, because
Plotly renders a subset of HTML in labels.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kiln.optional import require

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from kiln.evaluation.compare import Comparison
    from kiln.evaluation.result import Evaluation
    from kiln.evaluation.threshold import ThresholdChoice

MAX_CURVE_POINTS = 500
MAX_SCATTER_POINTS = 2000
HISTOGRAM_BINS = 40
MAX_MODELS = 20
MAX_FEATURES = 25
MAX_SLICES = 40
MAX_STRIP_FEATURES = 15  # rows of the SHAP strip chart
MAX_STRIP_POINTS = 300  # points per feature in the SHAP strip chart
MAX_CLASSES_ANNOTATED = 20  # beyond this a confusion matrix's cell labels become unreadable
ALPHA = 0.05  # a comparison with p below this says the model is worse than the best

_BLUE, _ORANGE, _RED, _GREY, _GREEN, _DARK = "#3b6ea5", "#d68910", "#c0392b", "#9aa5b1", "#1e8449", "#1f3a5f"
_LAYOUT = {"template": "none", "height": 390, "margin": {"l": 60, "r": 20, "t": 72, "b": 100},
           "font": {"family": "system-ui, sans-serif", "size": 12},
           "legend": {"orientation": "h", "yref": "container", "y": 0.01, "yanchor": "bottom", "x": 0}}
METRIC_LABELS = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC", "log_loss": "log loss", "brier": "Brier score",
                 "accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "f1": "F1", "macro_f1": "macro F1",
                 "precision": "precision", "recall": "recall", "rmse": "RMSE", "mae": "MAE", "r2": "R²",
                 "mape": "MAPE", "cost": "expected cost", "expected_cost": "expected cost"}


def metric_label(name: str) -> str:
    """A metric as a reader knows it: `roc_auc` → ROC AUC."""
    return METRIC_LABELS.get(name, name.replace("_", " "))


def _title(text: str) -> dict[str, Any]:
    """A title at the plot's top left, under the toolbar Plotly shows at the top right."""
    return {"text": text, "x": 0, "xref": "paper", "xanchor": "left", "y": 1, "yref": "paper",
            "yanchor": "bottom", "pad": {"b": 10}}


def roc_figure(y: np.ndarray, p: np.ndarray) -> go.Figure:
    """ROC curve of a binary task: `y` 0/1 labels, `p` the positive class's probability."""
    go = _plotly()
    y, p = np.asarray(y), np.asarray(p, dtype="float64")
    if len(np.unique(y)) < 2:
        return _empty("ROC curve", "The ROC curve needs rows of both classes; this data has one.")
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(y, p)
    keep = thin(len(fpr), MAX_CURVE_POINTS)
    figure = go.Figure([
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dash", "color": _GREY}),
        go.Scatter(x=_f32(fpr[keep]), y=_f32(tpr[keep]), mode="lines", name="model", line={"color": _BLUE},
                   customdata=_f32(np.clip(thresholds[keep], 0, 1)),
                   hovertemplate="false alarms %{x:.3f}<br>caught %{y:.3f}<br>threshold %{customdata:.3f}"
                                 "<extra></extra>"),
    ])
    figure.update_layout(**_LAYOUT, title=_title("ROC curve"),
                         xaxis={"title": "false positive rate", "range": [0, 1]},
                         yaxis={"title": "true positive rate (recall)", "range": [0, 1.02]})
    return figure


def pr_figure(y: np.ndarray, p: np.ndarray) -> go.Figure:
    """Precision-recall curve, with the positive rate as the no-skill line."""
    go = _plotly()
    y, p = np.asarray(y), np.asarray(p, dtype="float64")
    if len(np.unique(y)) < 2:
        return _empty("Precision-recall curve", "The curve needs rows of both classes; this data has one.")
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(y, p)
    keep = thin(len(recall), MAX_CURVE_POINTS)
    rate = float(np.mean(y == 1))
    figure = go.Figure([
        go.Scatter(x=[0, 1], y=[rate, rate], mode="lines", name=f"no skill ({rate:.1%} positive)",
                   line={"dash": "dash", "color": _GREY}),
        go.Scatter(x=_f32(recall[keep]), y=_f32(precision[keep]), mode="lines", name="model",
                   line={"color": _BLUE}, hovertemplate="recall %{x:.3f}<br>precision %{y:.3f}<extra></extra>"),
    ])
    figure.update_layout(**_LAYOUT, title=_title("Precision-recall curve"),
                         xaxis={"title": "recall", "range": [0, 1]},
                         yaxis={"title": "precision", "range": [0, 1.02]})
    return figure


def calibration_figure(y: np.ndarray, p: np.ndarray, bins: int = 10) -> go.Figure:
    """Reliability curve: in each bin of predicted probability, the share that was positive."""
    go = _plotly()
    y, p = np.asarray(y), np.clip(np.asarray(p, dtype="float64"), 0.0, 1.0)
    which = np.minimum((p * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    filled = counts > 0
    predicted = np.bincount(which, weights=p, minlength=bins)[filled] / counts[filled]
    observed = np.bincount(which, weights=(y == 1).astype(float), minlength=bins)[filled] / counts[filled]
    sizes = 6 + 14 * np.sqrt(counts[filled] / counts.max())
    figure = go.Figure([
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                   line={"dash": "dash", "color": _GREY}),
        go.Scatter(x=_f32(predicted), y=_f32(observed), mode="lines+markers", name="model",
                   marker={"size": _f32(sizes), "color": _BLUE}, customdata=counts[filled],
                   hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}<br>%{customdata:,} rows<extra></extra>"),
    ])
    figure.update_layout(**_LAYOUT, title=_title("Calibration (reliability) curve"),
                         xaxis={"title": "mean predicted probability", "range": [0, 1]},
                         yaxis={"title": "observed share positive", "range": [0, 1.02]})
    return figure


def score_distribution_figure(y: np.ndarray, p: np.ndarray, classes: Sequence[Any],
                              threshold: float | None = None) -> go.Figure:
    """Histograms of the positive-class probability, one per true class, as shares of that class."""
    go = _plotly()
    y, p = np.asarray(y), np.clip(np.asarray(p, dtype="float64"), 0.0, 1.0)
    edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    figure = go.Figure()
    for code, (label, colour) in enumerate(zip(classes, (_BLUE, _ORANGE), strict=False)):
        mine = p[y == code]
        if not len(mine):
            continue
        counts, _ = np.histogram(mine, bins=edges)
        figure.add_trace(go.Bar(x=_f32(centres), y=_f32(counts / len(mine)), width=1 / HISTOGRAM_BINS,
                                name=f"true class {_safe(label)} ({len(mine):,} rows)", marker_color=colour,
                                opacity=0.6, hovertemplate="score %{x:.3f}<br>share %{y:.1%}<extra></extra>"))
    if threshold is not None:
        figure.add_vline(x=threshold, line={"dash": "dot", "color": _DARK},
                         annotation_text=f"threshold {threshold:.3f}", annotation_position="top right")
    figure.update_layout(**_LAYOUT, title=_title("Predicted probability by true class"), barmode="overlay",
                         bargap=0,
                         xaxis={"title": f"predicted probability of {_safe(classes[-1])}", "range": [0, 1]},
                         yaxis={"title": "share of the class's rows", "tickformat": ".0%"})
    return figure


def confusion_figure(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[Any], normalize: bool) -> go.Figure:
    """Counts of true class (rows) against predicted class (columns); `normalize` shows each
    row as shares, so a rare class reads as clearly as a common one."""
    go = _plotly()
    k = len(labels)
    counts = np.zeros((k, k), dtype="int64")
    np.add.at(counts, (np.asarray(y_true, dtype="int64"), np.asarray(y_pred, dtype="int64")), 1)
    totals = counts.sum(axis=1, keepdims=True)
    shares = counts / np.maximum(totals, 1)
    names = [_safe(label) for label in labels]
    z = shares if normalize else counts
    text = [[f"{shares[i, j]:.1%}<br>{counts[i, j]:,}" if normalize else f"{counts[i, j]:,}" for j in range(k)]
            for i in range(k)]
    heat = go.Heatmap(z=z.astype("float32"), x=names, y=names, colorscale="Blues", showscale=False,
                      text=text if k <= MAX_CLASSES_ANNOTATED else None,
                      texttemplate="%{text}" if k <= MAX_CLASSES_ANNOTATED else None,
                      customdata=counts, hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata:,} rows"
                                                       "<extra></extra>")
    figure = go.Figure(heat)
    side = min(max(390, 40 * k + 200), 960)
    figure.update_layout(**{**_LAYOUT, "height": side},
                         title=_title("Confusion matrix" + (" (share of each true class)" if normalize else "")),
                         xaxis={"title": "predicted class", "type": "category"},
                         yaxis={"title": "true class", "type": "category", "autorange": "reversed"})
    return figure


def per_class_frame(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[Any]) -> pd.DataFrame:
    """Precision, recall, F1 and rows of each class (the table a per-class chart draws)."""
    y_true, y_pred = np.asarray(y_true, dtype="int64"), np.asarray(y_pred, dtype="int64")
    rows = []
    for code, label in enumerate(labels):
        hit = int(np.sum((y_true == code) & (y_pred == code)))
        actual, called = int(np.sum(y_true == code)), int(np.sum(y_pred == code))
        precision = hit / called if called else float("nan")
        recall = hit / actual if actual else float("nan")
        f1 = 2 * hit / (actual + called) if actual + called else float("nan")
        rows.append({"class": label, "precision": precision, "recall": recall, "f1": f1, "rows": actual})
    return pd.DataFrame(rows, columns=["class", "precision", "recall", "f1", "rows"])


def per_class_figure(frame: pd.DataFrame) -> go.Figure:
    """Grouped bars of precision, recall and F1 per class (`per_class_frame`'s columns)."""
    go = _plotly()
    names = [_safe(c) for c in frame["class"]]
    figure = go.Figure([go.Bar(x=names, y=_f32(frame[measure].to_numpy(dtype="float64")), name=measure,
                               marker_color=colour)
                        for measure, colour in (("precision", _BLUE), ("recall", _ORANGE), ("f1", _GREEN))])
    figure.update_layout(**_LAYOUT, title=_title("Precision, recall and F1 per class"), barmode="group",
                         xaxis={"title": "class", "type": "category"}, yaxis={"range": [0, 1.02]})
    return figure


def predicted_vs_actual_figure(y: np.ndarray, yhat: np.ndarray) -> go.Figure:
    """Each row's prediction against its true value; the diagonal is a perfect prediction."""
    go = _plotly()
    y, yhat = np.asarray(y, dtype="float64"), np.asarray(yhat, dtype="float64")
    keep = sample(len(y), MAX_SCATTER_POINTS)
    low, high = float(np.nanmin([y.min(), yhat.min()])), float(np.nanmax([y.max(), yhat.max()]))
    figure = go.Figure([
        go.Scatter(x=[low, high], y=[low, high], mode="lines", name="perfect", line={"dash": "dash",
                                                                                        "color": _GREY}),
        go.Scatter(x=_f32(y[keep]), y=_f32(yhat[keep]), mode="markers", name=_shown("rows", len(keep), len(y)),
                   marker={"size": 4, "color": _BLUE, "opacity": 0.5}),
    ])
    figure.update_layout(**_LAYOUT, title=_title("Predicted against actual"), xaxis={"title": "actual"},
                         yaxis={"title": "predicted"})
    return figure


def residuals_figure(y: np.ndarray, yhat: np.ndarray) -> go.Figure:
    """Residual (actual − predicted) against the prediction; a pattern means a missed effect."""
    go = _plotly()
    y, yhat = np.asarray(y, dtype="float64"), np.asarray(yhat, dtype="float64")
    keep = sample(len(y), MAX_SCATTER_POINTS)
    figure = go.Figure(go.Scatter(x=_f32(yhat[keep]), y=_f32((y - yhat)[keep]), mode="markers",
                                  name=_shown("rows", len(keep), len(y)),
                                  marker={"size": 4, "color": _BLUE, "opacity": 0.5}))
    figure.add_hline(y=0, line={"dash": "dash", "color": _GREY})
    figure.update_layout(**_LAYOUT, title=_title("Residuals against predicted"), showlegend=True,
                         xaxis={"title": "predicted"}, yaxis={"title": "residual (actual − predicted)"})
    return figure


def residual_distribution_figure(y: np.ndarray, yhat: np.ndarray) -> go.Figure:
    """Histogram of residuals; centred on zero and narrow is good, a skew means biased errors."""
    go = _plotly()
    residuals = np.asarray(y, dtype="float64") - np.asarray(yhat, dtype="float64")
    residuals = residuals[np.isfinite(residuals)]
    counts, edges = np.histogram(residuals, bins=HISTOGRAM_BINS)
    figure = go.Figure(go.Bar(x=_f32((edges[:-1] + edges[1:]) / 2), y=counts, width=_f32(np.diff(edges)),
                              marker_color=_BLUE, name="rows"))
    figure.add_vline(x=0, line={"dash": "dash", "color": _GREY})
    figure.update_layout(**_LAYOUT, title=_title("Distribution of residuals"), bargap=0.02, showlegend=False,
                         xaxis={"title": "residual (actual − predicted)"}, yaxis={"title": "rows"})
    return figure


def cost_curve_figure(choice: ThresholdChoice) -> go.Figure:
    """Expected cost per row and F1 against the decision threshold, the chosen one marked.

    The cost axis stops at 2.5 × the cost of never flagging a row, so the low thresholds
    that flag everything do not flatten the region where the choice is made.
    """
    from plotly.subplots import make_subplots

    go = _plotly()
    curve = choice.curve.sort_values("threshold")
    curve = curve.iloc[thin(len(curve), MAX_CURVE_POINTS)]
    x = _f32(curve["threshold"].to_numpy(dtype="float64"))
    cost = curve["expected_cost"].to_numpy(dtype="float64")
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    label = f"expected cost per row (false alarm {choice.cost_fp:g}, miss {choice.cost_fn:g})"
    figure.add_trace(go.Scatter(x=x, y=_f32(cost), mode="lines", line={"color": _RED}, name=label),
                     secondary_y=False)
    for measure, colour in (("f1", _BLUE), ("precision", _GREEN), ("recall", _ORANGE)):
        if measure in curve:
            figure.add_trace(go.Scatter(x=x, y=_f32(curve[measure].to_numpy(dtype="float64")), mode="lines",
                                        name=metric_label(measure), line={"color": colour,
                                                                          "width": 2 if measure == "f1" else 1},
                                        visible=True if measure == "f1" else "legendonly"), secondary_y=True)
    top = float(np.nanmax(cost)) if len(cost) else 1.0
    if len(cost) and "recall" in curve and curve["recall"].iloc[-1] == 0:  # the last threshold flags no row
        never = float(cost[-1])
        top = min(top, 2.5 * never) if never > 0 else top
        figure.add_hline(y=never, line={"dash": "dash", "color": _GREY}, annotation_text="cost of never flagging",
                         annotation_position="bottom left")
    figure.add_vline(x=choice.threshold, line={"dash": "dot", "color": _DARK},
                     annotation_text=f"in use {choice.threshold:.3f}")
    figure.update_layout(**_LAYOUT, title=_title(f"Cost and F1 against the threshold (objective: "
                                                 f"{metric_label(choice.objective)})"),
                         xaxis={"title": "decision threshold on the positive-class probability", "range": [0, 1]})
    figure.update_yaxes(title_text="expected cost per row", range=[0, max(top, 1e-6) * 1.05], secondary_y=False)
    figure.update_yaxes(title_text="F1 / precision / recall", range=[0, 1.02], tickmode="linear", dtick=0.2,
                        showgrid=False, secondary_y=True)
    return figure


def comparison_figure(leaderboard: pd.DataFrame, comparisons: Sequence[Comparison]) -> go.Figure:
    """Critical-difference style chart: each candidate's CV score with its 95% interval; the
    best and those a paired test cannot tell from it share a colour and are joined by a bar."""
    go = _plotly()
    board = leaderboard[np.isfinite(leaderboard["score"].to_numpy(dtype="float64"))]
    board = board.sort_values("rank").head(MAX_MODELS) if "rank" in board else board.head(MAX_MODELS)
    if board.empty:
        return _empty("Candidates and their intervals", "No candidate finished with a score.")
    best = comparisons[0].best if comparisons else str(board["model"].iloc[0])
    tested = {c.model: c for c in comparisons}
    groups: dict[str, tuple[str, str]] = {
        "best": ("the best", _DARK), "tie": (f"not distinguishable from the best (p ≥ {ALPHA:g})", _BLUE),
        "worse": (f"worse than the best (p < {ALPHA:g})", _RED),
        "untested": ("not tested (the ensemble, or beyond the top)", _GREY)}

    def group(model: str) -> str:
        if model == best:
            return "best"
        found = tested.get(model)
        if found is None or found.p_value is None or math.isnan(found.p_value):
            return "untested"
        return "tie" if found.p_value >= ALPHA else "worse"

    board = board.assign(_group=[group(str(m)) for m in board["model"]], _name=[_safe(m) for m in board["model"]])
    figure = go.Figure()
    for key, (label, colour) in groups.items():
        part = board[board["_group"] == key]
        if part.empty:
            continue
        score = part["score"].to_numpy(dtype="float64")
        high = np.nan_to_num(part["ci_high"].to_numpy(dtype="float64") - score)
        low = np.nan_to_num(score - part["ci_low"].to_numpy(dtype="float64"))
        hover = [f"p = {tested[m].p_value:.3g}" if m in tested else "" for m in part["model"]]
        figure.add_trace(go.Scatter(x=_f32(score), y=list(part["_name"]), mode="markers", name=label,
                                    marker={"color": colour, "size": 10 if key == "best" else 8},
                                    error_x={"type": "data", "array": _f32(high), "arrayminus": _f32(low),
                                             "color": colour, "thickness": 1.5},
                                    customdata=hover,
                                    hovertemplate="%{y}<br>score %{x:.4f}<br>%{customdata}<extra></extra>"))
    joined = board[board["_group"].isin(["best", "tie"])]
    if len(joined) > 1:
        right = float(np.nanmax(board[["score", "ci_high"]].to_numpy(dtype="float64")))
        left = float(np.nanmin(board[["score", "ci_low"]].to_numpy(dtype="float64")))
        at = right + 0.04 * max(right - left, 1e-9)
        figure.add_trace(go.Scatter(x=[at, at], y=[joined["_name"].iloc[0], joined["_name"].iloc[-1]],
                                    mode="lines", line={"color": _BLUE, "width": 6}, opacity=0.5,
                                    name="joined: no significant difference", hoverinfo="skip"))
    best_score = float(board.loc[board["_group"] == "best", "score"].iloc[0]) if (board["_group"] == "best").any() \
        else float(board["score"].iloc[0])
    figure.add_vline(x=best_score, line={"dash": "dot", "color": _DARK})
    metric = str(board["metric"].iloc[0]) if "metric" in board else "score"
    figure.update_layout(**{**_LAYOUT, "height": max(330, 26 * len(board) + 190),
                            "margin": {"l": 230, "r": 20, "t": 72, "b": 100}},
                         title=_title("Candidates' cross-validated scores with 95% intervals"),
                         xaxis={"title": f"{_safe(metric_label(metric))} (cross-validated)"},
                         yaxis={"type": "category", "categoryorder": "array",
                                "categoryarray": list(board["_name"])[::-1]})
    return figure


def importance_figure(importance: pd.DataFrame, metric: str | None = None) -> go.Figure:
    """Permutation importance with its interval, the most important feature on top."""
    go = _plotly()
    if importance is None or importance.empty:
        return _empty("Permutation importance", "No importance was computed.")
    top = importance.sort_values("importance", ascending=False).head(MAX_FEATURES).iloc[::-1]
    value = top["importance"].to_numpy(dtype="float64")
    figure = go.Figure(go.Bar(
        x=_f32(value), y=[_safe(f) for f in top["feature"]], orientation="h", marker_color=_BLUE,
        error_x={"type": "data", "array": _f32(np.nan_to_num(top["ci_high"].to_numpy(dtype="float64") - value)),
                 "arrayminus": _f32(np.nan_to_num(value - top["ci_low"].to_numpy(dtype="float64"))),
                 "color": _DARK}))
    figure.update_layout(**{**_LAYOUT, "height": max(300, 24 * len(top) + 140),
                            "margin": {"l": 200, "r": 20, "t": 72, "b": 60}}, showlegend=False,
                         title=_title("Permutation importance (loss of score when a feature is shuffled)"),
                         xaxis={"title": f"drop in {metric_label(metric) if metric else 'score'}"},
                         yaxis={"type": "category"})
    return figure


def learning_curve_figure(curve: dict[str, Any]) -> go.Figure:
    """Cross-validated score against training rows, with each point's 95% interval."""
    go = _plotly()
    points = curve.get("points") or []
    if not points:
        return _empty("Learning curve", "No learning curve was computed.")
    rows = [p["rows"] for p in points]
    score = np.asarray([p["score"] for p in points], dtype="float64")
    high = np.asarray([p["ci_high"] for p in points], dtype="float64")
    low = np.asarray([p["ci_low"] for p in points], dtype="float64")
    figure = go.Figure(go.Scatter(
        x=rows, y=_f32(score), mode="lines+markers", line={"color": _BLUE},
        error_y={"type": "data", "array": _f32(np.nan_to_num(high - score)),
                 "arrayminus": _f32(np.nan_to_num(score - low)), "color": _DARK}))
    figure.update_layout(**_LAYOUT, showlegend=False,
                         title=_title(f"Learning curve of {_safe(curve.get('model', ''))}"),
                         xaxis={"title": "training rows per fold"},
                         yaxis={"title": f"cross-validated {metric_label(curve.get('metric', ''))}"})
    return figure


def shap_frame(contributions: pd.DataFrame) -> pd.DataFrame:
    """Mean |SHAP contribution| per feature (how far it moves a prediction on average), largest first.

    `contributions` is `kiln.explain(model, rows)`'s frame; its `base_value` column is not a feature.
    """
    values = contributions.drop(columns=["base_value"], errors="ignore")
    mean_abs = values.abs().mean(axis=0).to_numpy(dtype="float64") if len(values) else np.zeros(values.shape[1])
    table = pd.DataFrame({"feature": [str(c) for c in values.columns], "mean_abs_contribution": mean_abs})
    return table.sort_values("mean_abs_contribution", ascending=False, kind="stable").reset_index(drop=True)


def shap_bar_figure(contributions: pd.DataFrame) -> go.Figure:
    """Mean |SHAP contribution| per feature, the most influential on top."""
    go = _plotly()
    summary = shap_frame(contributions)
    if summary.empty:
        return _empty("SHAP summary", "No contribution was computed.")
    top = summary.head(MAX_FEATURES).iloc[::-1]
    output = _safe(contributions.attrs.get("output", "the model's output"))
    figure = go.Figure(go.Bar(x=_f32(top["mean_abs_contribution"]), y=[_safe(f) for f in top["feature"]],
                              orientation="h", marker_color=_BLUE,
                              hovertemplate="%{y}<br>mean |contribution| %{x:.4g}<extra></extra>"))
    figure.update_layout(**{**_LAYOUT, "height": max(300, 24 * len(top) + 140),
                            "margin": {"l": 200, "r": 20, "t": 72, "b": 60}}, showlegend=False,
                         title=_title(f"SHAP summary: mean |contribution| on {len(contributions):,} rows"),
                         xaxis={"title": f"mean |contribution| to the {output}"}, yaxis={"type": "category"})
    return figure


def shap_strip_figure(contributions: pd.DataFrame, *, max_points: int = MAX_STRIP_POINTS,
                      seed: int = 0) -> go.Figure:
    """Each row's contribution per feature as a jittered strip (a compact beeswarm), at most
    `max_points` rows per feature (a random sample), features in the order of the bar chart."""
    go = _plotly()
    summary = shap_frame(contributions)
    if summary.empty or contributions.empty:
        return _empty("SHAP contributions per row", "No contribution was computed.")
    features = list(summary["feature"].head(MAX_STRIP_FEATURES))[::-1]  # most influential on top
    columns = {str(c): c for c in contributions.columns}
    keep = sample(len(contributions), max_points, seed)
    rng = np.random.default_rng(seed)
    x = np.concatenate([contributions[columns[f]].to_numpy(dtype="float64")[keep] for f in features])
    y = np.concatenate([np.full(len(keep), i) + rng.uniform(-0.3, 0.3, len(keep)) for i in range(len(features))])
    output = _safe(contributions.attrs.get("output", "the model's output"))
    figure = go.Figure()
    shown = _shown("rows", len(keep), len(contributions))
    for label, colour, part in ((f"raises the output ({shown})", _RED, x > 0), ("lowers it", _BLUE, x <= 0)):
        figure.add_trace(go.Scatter(x=_f32(x[part]), y=_f32(y[part]), mode="markers", name=label,
                                    hovertemplate="contribution %{x:.4g}<extra></extra>",
                                    marker={"size": 4, "opacity": 0.5, "color": colour}))
    figure.add_vline(x=0, line={"dash": "dash", "color": _GREY})
    figure.update_layout(**{**_LAYOUT, "height": max(300, 26 * len(features) + 160),
                            "margin": {"l": 200, "r": 20, "t": 72, "b": 80}}, showlegend=True,
                         title=_title("SHAP contributions of each row, per feature"),
                         xaxis={"title": f"contribution to the {output}"},
                         yaxis={"tickmode": "array", "tickvals": list(range(len(features))),
                                "ticktext": [_safe(f) for f in features], "range": [-0.6, len(features) - 0.4],
                                "zeroline": False})
    return figure


def slices_figure(slices: pd.DataFrame, metric: str | None = None) -> go.Figure:
    """Score of each slice (a level of a categorical feature) with its interval; the overall
    score is the dotted line and significantly worse slices are red."""
    go = _plotly()
    if slices is None or slices.empty:
        return _empty("Scores by slice", "No categorical feature to slice by.")
    shown = slices.head(MAX_SLICES).iloc[::-1]
    names = [_safe(f"{c} = {v}") for c, v in zip(shown["column"], shown["level"], strict=True)]
    score = shown["score"].to_numpy(dtype="float64")
    worse = shown["worse"].to_numpy(dtype=bool)
    figure = go.Figure(go.Scatter(
        x=_f32(score), y=names, mode="markers", marker={"color": [_RED if w else _BLUE for w in worse], "size": 9},
        error_x={"type": "data", "array": _f32(np.nan_to_num(shown["ci_high"].to_numpy(dtype="float64") - score)),
                 "arrayminus": _f32(np.nan_to_num(score - shown["ci_low"].to_numpy(dtype="float64"))),
                 "color": _GREY},
        customdata=shown["rows"].to_numpy(), hovertemplate="%{y}<br>score %{x:.4f}<br>%{customdata:,} rows"
                                                            "<extra></extra>"))
    figure.add_vline(x=float(slices["overall"].iloc[0]), line={"dash": "dot", "color": _DARK},
                     annotation_text="overall")
    figure.update_layout(**{**_LAYOUT, "height": max(300, 24 * len(shown) + 140),
                            "margin": {"l": 220, "r": 20, "t": 72, "b": 60}}, showlegend=False,
                         title=_title("Score by slice (red: worse than overall, corrected for the slices tested)"),
                         xaxis={"title": metric_label(metric) if metric else "score"}, yaxis={"type": "category"})
    return figure


def evaluation_figures(ev: Evaluation, *, leaderboard: pd.DataFrame | None = None) -> dict[str, go.Figure]:
    """The figures of an evaluation, chosen by its task, keyed by a short name.

    Binary: roc, pr, calibration, score_distribution, confusion, cost_curve; multiclass:
    confusion, per_class; regression: predicted_vs_actual, residuals, residual_distribution;
    then comparison (with a leaderboard), importance and slices where there is something to draw.
    """
    figures: dict[str, go.Figure] = {}
    y = np.asarray(ev.y_true)
    prediction = np.asarray(ev.prediction)
    classes = list(ev.classes or [])
    if ev.task == "binary":
        positive = prediction[:, 1]
        cut = ev.threshold.threshold if ev.threshold is not None else 0.5
        figures["roc"] = roc_figure(y, positive)
        figures["pr"] = pr_figure(y, positive)
        figures["calibration"] = calibration_figure(y, positive)
        figures["score_distribution"] = score_distribution_figure(y, positive, classes, threshold=cut)
        figures["confusion"] = confusion_figure(y, (positive >= cut).astype("int64"), classes, normalize=False)
        if ev.threshold is not None:
            figures["cost_curve"] = cost_curve_figure(ev.threshold)
    elif ev.task == "multiclass":
        predicted = prediction.argmax(axis=1)
        figures["confusion"] = confusion_figure(y, predicted, classes, normalize=True)
        figures["per_class"] = per_class_figure(per_class_frame(y, predicted, classes))
    else:
        figures["predicted_vs_actual"] = predicted_vs_actual_figure(y, prediction)
        figures["residuals"] = residuals_figure(y, prediction)
        figures["residual_distribution"] = residual_distribution_figure(y, prediction)
    if leaderboard is not None and not leaderboard.empty:
        figures["comparison"] = comparison_figure(leaderboard, ev.comparisons)
    if ev.importance is not None and not ev.importance.empty:
        figures["importance"] = importance_figure(ev.importance, ev.metric)
    if ev.slices is not None and not ev.slices.empty:
        figures["slices"] = slices_figure(ev.slices, ev.metric)
    return figures


def thin(n: int, max_points: int) -> np.ndarray:
    """At most `max_points` evenly spaced indices of a curve of `n` points, both ends kept."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype("int64"))


def sample(n: int, max_points: int, seed: int = 0) -> np.ndarray:
    """At most `max_points` indices drawn at random (fixed seed), in order; density is kept."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


def _f32(values: Any) -> np.ndarray:
    return np.asarray(values, dtype="float32")


def _shown(what: str, shown: int, total: int) -> str:
    return f"{total:,} {what}" if shown == total else f"{shown:,} of {total:,} {what} (random sample)"


def _safe(text: object) -> str:
    return html.escape(str(text), quote=False)


def _empty(title: str, message: str) -> go.Figure:
    go = _plotly()
    figure = go.Figure()
    figure.add_annotation(text=_safe(message), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    figure.update_layout(**_LAYOUT, title=_title(_safe(title)), xaxis={"visible": False}, yaxis={"visible": False})
    return figure


def _plotly() -> Any:
    return require("plotly.graph_objects", purpose="Evaluation figures", package="plotly")
