"""The evaluation report: one page rendering an `Evaluation` for a reader who is learning.

Every section opens with what it shows and how to read it, and every warning says what
to do next. The page shows the numbers the `Evaluation` object holds and computes none
of its own, so what a user reads here and what `kiln.evaluate(model, df)` returns never differ.
The section builders are shared with the training report, which renders the
out-of-fold evaluation the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from kiln.report.html import Html, Section, badge, escape, figure, interval, number, paragraph, render_page, table
from kiln.report.plots import metric_label

if TYPE_CHECKING:
    from kiln.evaluation.result import Evaluation

MAX_IMPORTANCE_ROWS = 25
MAX_SLICE_ROWS = 40
MAX_BOARD_ROWS = 15
MAX_SHAP_ROWS = 300  # rows `kiln evaluate` explains for the SHAP summary (Tree SHAP is per row)

_PLOT_GUIDES = {
    "roc": "Each point is one threshold: the share of positives caught (up) against the share of negatives "
           "falsely flagged (right). Closer to the top-left corner is better; the dashed diagonal is guessing.",
    "pr": "Precision (how many flagged rows are truly positive) against recall (how many positives are caught). "
          "When positives are rare this is more telling than ROC; the dashed line is what guessing achieves.",
    "calibration": "A calibration curve close to the diagonal means a predicted 30% really happens about 30% of "
                   "the time. Points below it: the model predicts too high a probability; above it, too low. "
                   "Bigger dots hold more rows; a few rows make a dot jumpy.",
    "score_distribution": "The predicted probability for rows of each true class. Well-separated humps mean the "
                          "model tells the classes apart; where they overlap, it errs. The dotted line is the "
                          "threshold in use.",
    "confusion": "Rows are the true classes, columns the predicted ones; the diagonal counts correct predictions. "
                 "Off-diagonal cells are the mistakes, by kind.",
    "per_class": "Precision, recall and F1 of each class. A class with low recall is one the model misses; "
                 "often a rare class that more labelled rows would help.",
    "predicted_vs_actual": "Each dot is a row. On the dashed diagonal the prediction is exact; a cloud that "
                           "flattens at the ends means the model shrinks extreme values towards the mean.",
    "residuals": "The error of each row against its prediction. A shapeless band around zero is good; a curve "
                 "or a funnel means an effect the model misses or errors that grow with the value.",
    "residual_distribution": "How large the errors are. Centred on zero and narrow is good; a long tail on one "
                             "side means the model is biased for some rows.",
}
_PLOT_ORDER = tuple(_PLOT_GUIDES)


def render_evaluation(ev: Evaluation, *, title: str, model_card: dict | None = None,
                      leaderboard: pd.DataFrame | None = None, subtitle: str | None = None,
                      contributions: pd.DataFrame | None = None) -> str:
    """The whole evaluation as a self-contained HTML page (opens offline).

    `model_card` is `model_card(model)`'s dictionary; `leaderboard` (the model's
    `leaderboard()`) adds the candidates' chart to the statistics section;
    `contributions` (`kiln.explain(model, rows)` on a sample of the evaluated rows, see
    `MAX_SHAP_ROWS`) adds a SHAP summary to the explanations.
    """
    from kiln.report.plots import evaluation_figures

    figures = evaluation_figures(ev, leaderboard=leaderboard)
    # A regression model predicts a value: it has no decision threshold, so no such section.
    threshold = [] if ev.task == "regression" else [
        threshold_section(ev, figures.get("cost_curve"),
                          stored=None if model_card is None else bool(model_card.get("decision")))]
    from kiln.report.text import text_section

    text = text_section(ev)  # a classifier reading a text column
    sections = [scores_section(ev), *([text] if text is not None else []),
                statistics_section(ev, figures.get("comparison"), leaderboard=leaderboard),
                plots_section(ev, figures), *threshold,
                explanations_section(ev, figures.get("importance"), contributions=contributions, shap=True),
                slices_section(ev, figures.get("slices")),
                model_card_section(ev, model_card)]
    rows = len(ev.y_true)
    sub = subtitle or f"{ev.task} · {rows:,} rows evaluated · metric {metric_name(ev.metric)}"
    return render_page(title, sections, subtitle=sub)


def evaluation_json(ev: Evaluation) -> dict[str, Any]:
    """The evaluation's tables as JSON-ready data (missing numbers as null), for `kiln evaluate --json`."""
    import json

    def records(frame: pd.DataFrame) -> list[dict]:
        return json.loads(frame.to_json(orient="records")) if frame is not None and not frame.empty else []

    choice = ev.threshold
    threshold = None if choice is None else json.loads(pd.Series({
        "threshold": choice.threshold, "objective": choice.objective, "cost_fp": choice.cost_fp,
        "cost_fn": choice.cost_fn, "value": choice.value}).to_json())
    return {"task": ev.task, "metric": ev.metric, "rows": len(ev.y_true), "scores": records(ev.frame()),
            "tests": records(ev.tests_frame()), "tests_source": "the evaluated rows",
            "comparisons": records(ev.comparisons_frame()),
            "comparisons_source": "training: the candidates' cross-validation folds",
            "comparisons_missing": ev.not_compared or None, "threshold": threshold,
            "slices": records(ev.slices_frame()), "importance": records(ev.importance_frame()),
            "text": None if ev.text is None else {
                **{name: records(getattr(ev.text, name)) for name in ("per_class", "confused", "coverage", "ngrams")},
                "ngrams_source": ev.text.ngrams_source, "reject": ev.text.reject}}


def metric_name(name: str, classes: Sequence[Any] | None = None) -> str:
    """A metric as a reader knows it: `roc_auc` → ROC AUC, `recall[2]` → recall of class 2's label."""
    base, _, rest = name.partition("[")
    if rest.endswith("]") and rest[:-1].isdigit():
        code = int(rest[:-1])
        label = classes[code] if classes is not None and code < len(classes) else code
        return f"{metric_label(base)} of class {label}"
    return metric_label(name)


def beats_baseline(score: Any) -> bool | None:
    """True when the whole interval is on the better side of the baseline, None when there is
    no baseline or interval to compare (a reading of the Score, not a new number)."""
    values = (score.baseline, score.ci_low, score.ci_high)
    if any(v is None or math.isnan(float(v)) for v in values):
        return None
    return score.ci_low > score.baseline if score.greater_is_better else score.ci_high < score.baseline


LABEL_METRICS = ("accuracy", "balanced_accuracy", "f1", "precision", "recall")  # binary: set by the threshold
BOOTSTRAP_NOTE = ("The interval resamples the rows 1,000 times: within each class for ROC AUC, recall and balanced "
                  "accuracy, which average over one class at a time; over all rows at once for the others, whose "
                  "value also moves with the share of each class a sample happens to hold.")


def threshold_traded(ev: Evaluation) -> list[Any]:
    """Binary label metrics below the baseline only because of a chosen threshold: the model ranks
    well (ROC AUC clearly beats chance) and the threshold in use is not 0.5, so it flags more or
    fewer rows than the majority-class baseline by design (a reading of the Evaluation)."""
    choice = ev.threshold
    if ev.task != "binary" or choice is None or math.isclose(choice.threshold, 0.5):
        return []
    ranking = next((s for s in ev.scores if s.metric == "roc_auc"), None)
    if ranking is None or not beats_baseline(ranking):
        return []
    return [s for s in ev.scores if s.metric in LABEL_METRICS and beats_baseline(s) is False]


def scores_section(ev: Evaluation, *, where: str = "rows the model did not see during training",
                   note: str | None = None) -> Section:
    """Every metric with its 95% interval next to a trivial baseline; `note` is said under the table."""
    rows, weak = [], []
    traded = {s.metric for s in threshold_traded(ev)}
    for score in ev.scores:
        verdict = beats_baseline(score)
        if verdict is False and score.metric not in traded:
            weak.append(metric_name(score.metric, ev.classes))
        judged = {True: badge("clearly better", "ok"), False: badge("not clearly better", "warning"),
                  None: ""}[verdict]
        if score.metric in traded:
            judged = badge("below it: the threshold's trade", "info")
        rows.append({"metric": metric_name(score.metric, ev.classes), "value": number(score.value),
                     "interval": interval(score.ci_low, score.ci_high), "baseline": number(score.baseline),
                     "better": "higher" if score.greater_is_better else "lower",
                     "against the baseline": judged,
                     "selection": badge("selection metric", "info") if score.metric == ev.metric else ""})
    intro = (f"Each score is measured on {where}, with a 95% bootstrap interval: scores on other data like this "
             "would fall inside it 95 times in 100. The baseline is a trivial model (the majority class, or the "
             "mean) and shows what \"good\" means here: a useful model beats it by more than its interval. "
             + (BOOTSTRAP_NOTE if ev.task != "regression" else "The interval resamples the rows 1,000 times."))
    if ev.task == "binary" and ev.threshold is not None:
        intro += (f" Accuracy, balanced accuracy, F1, precision and recall count decisions, so they are measured at "
                  f"the decision threshold in use, {number(ev.threshold.threshold)}.")
    parts = [table(rows, ["metric", "value", "interval", "baseline", "better", "against the baseline",
                          "selection"], headers={"interval": "95% interval", "better": "better is"})]
    if note:
        parts.append(_note(note))
    if traded:
        parts.append(_note(_trade_text(ev)))
    if weak:
        parts.append(_warning(f"On {', '.join(weak)} the interval reaches the baseline, so the model is not clearly "
                              "better than a trivial guess on these measures. Check that the features carry signal "
                              "(`kiln profile DATA --target COL` shows each column's association), give training "
                              "more time, or gather more labelled rows."))
    return Section("Scores", intro, "".join(parts))


def _trade_text(ev: Evaluation) -> str:
    """Why a label metric sits below the majority-class baseline at the threshold in use."""
    choice = ev.threshold
    if choice is None:  # threshold_traded finds nothing without one
        return ""
    scores = {s.metric: s for s in ev.scores}
    traded = threshold_traded(ev)
    named = ", ".join(f"{metric_name(s.metric)} {number(s.value)} (baseline {number(s.baseline)})" for s in traded)
    positive = ev.classes[1] if ev.classes and len(ev.classes) > 1 else 1
    if choice.objective == "cost":
        why = (f"chosen to minimise the expected cost with a false positive costing {choice.cost_fp:g} and a false "
               f"negative {choice.cost_fn:g}")
    else:
        why = f"chosen to maximise {metric_label(choice.objective)}"
    text = (f"{named[0].upper()}{named[1:]}: below the baseline because of the decision threshold, not a weak model. "
            f"The threshold in use, {number(choice.threshold)}, was {why}, so the model flags a row as "
            f"{positive} once its probability reaches {number(choice.threshold)}, where the baseline predicts the "
            f"commonest class for every row. It trades these for catching class {positive}")
    recall = scores.get("recall")
    if recall is not None:
        text += f" (recall {number(recall.value)}; the baseline's {number(recall.baseline)})"
    text += "."
    nothing = choice.curve[(choice.curve["recall"] == 0) & (choice.curve["precision"] == 1)]
    if choice.objective == "cost" and not nothing.empty:
        text += (f" Expected cost per row: {number(choice.value)} at this threshold, "
                 f"{number(float(nothing['expected_cost'].min()))} flagging no row.")
    free = [metric_name(s.metric) for s in ev.scores if s.metric in ("roc_auc", "pr_auc", "log_loss", "brier")
            and beats_baseline(s)]
    return text + (f" Judge the model by the scores that need no threshold ({', '.join(free)}: clearly better than "
                   "the baseline here), and the threshold by the Decision threshold section.")


def statistics_section(ev: Evaluation, chart: Any = None, *, leaderboard: pd.DataFrame | None = None,
                       show_board: bool = True) -> Section:
    """Paired tests on the evaluated rows, then the training folds' comparisons of candidates, each labelled."""
    intro = ("Two kinds of paired test, each labelled with the rows it used. On the rows evaluated here, the served "
             "model is compared with its best member and with a trivial baseline, every model predicting the same "
             "rows. From training, every candidate was scored on the same cross-validation folds, and a paired test "
             "on those folds asks whether the gap to the best is real or noise. p below 0.05 means a real "
             "difference; above it, the two cannot be told apart and you may prefer the simpler or faster.")
    parts: list[str] = [_holdout_tests(ev)]
    parts.append("<h3>From training: the candidates on the cross-validation folds (not these rows)</h3>")
    if chart is not None:
        parts.append(figure(chart, div_id="figure-comparison"))
        parts.append(_guide("Each dot is a candidate's cross-validated score, its bar the 95% interval. Candidates "
                            "joined to the best by the thick bar, in the same colour, are not distinguishable "
                            "from it."))
    parts.append(_fold_comparisons(ev))
    if show_board and leaderboard is not None and not leaderboard.empty:
        board = leaderboard.head(MAX_BOARD_ROWS).to_dict("records")
        parts.append(table([{**r, "score": number(r.get("score")), "interval": interval(r.get("ci_low"),
                                                                                          r.get("ci_high"))}
                            for r in board], ["rank", "model", "learner", "score", "interval", "status"],
                           headers={"interval": "95% CV interval"}))
    return Section("Leaderboard with statistics", intro, "".join(parts))


def _holdout_tests(ev: Evaluation) -> str:
    """The served model against its best member and the baseline, paired on the evaluated rows."""
    from kiln.evaluation.compare import format_p

    if not ev.tests:
        return str(paragraph("No paired test on evaluated rows here (these are training's out-of-fold predictions, "
                             "or the rows hold a single class); `kiln evaluate MODEL DATA` tests the served model "
                             "against its best member and a baseline on new labelled rows."))
    parts = [f"<h3>On these {len(ev.y_true):,} rows: the served model against its best member and a trivial "
             "baseline</h3>"]
    parts.extend(str(paragraph(t.verdict)) for t in ev.tests)
    rows = [{"compared with": t.other, "served": number(t.model_value), "other": number(t.other_value),
             "difference": number(t.difference), "interval": interval(t.ci_low, t.ci_high),
             "p": "—" if math.isnan(t.p_value) else format_p(t.p_value),
             "test": {"delong": "DeLong (paired AUCs)", "bootstrap": "paired bootstrap"}.get(t.test, t.test)}
            for t in ev.tests]
    parts.append(table(rows, ["compared with", "served", "other", "difference", "interval", "p", "test"],
                       headers={"served": f"served model's {metric_name(ev.metric)}",
                                "difference": "how much better the served model is", "interval": "95% interval",
                                "p": "p (two-sided)"}))
    if len(ev.tests) == 1:
        parts.append(_note("The served model is a single member, so only the baseline comparison applies."))
    return "".join(parts)


def _fold_comparisons(ev: Evaluation) -> str:
    from kiln.evaluation.compare import format_p

    if not ev.comparisons:
        why = f": {ev.not_compared}" if ev.not_compared else ""
        return str(paragraph(f"No paired comparison was made on the folds{why}. A paired test needs two "
                             "candidates that learned, each scored on the same cross-validation folds."))
    parts = [str(paragraph(f"From training: {c.verdict}")) for c in ev.comparisons]
    rows = [{"model": c.model, "mean difference": number(c.mean_difference),
             "p": "—" if c.p_value is None or math.isnan(c.p_value) else format_p(c.p_value), "test": c.test,
             "verdict": c.verdict} for c in ev.comparisons]
    parts.append(table(rows, ["model", "mean difference", "p", "test", "verdict"],
                       headers={"model": "compared with the best",
                                "mean difference": f"how much better {ev.comparisons[0].best} scores (per fold)"}))
    ties = [c.model for c in ev.comparisons if c.p_value is not None and not math.isnan(c.p_value)
            and c.p_value >= 0.05]
    if ties:
        parts.append(_note(f"{len(ties)} candidate(s) could not be told from the best on the training folds. If "
                           "one of them predicts faster or is simpler to explain, it is a sound choice; to separate "
                           "them, train on more rows or with more folds."))
    return "".join(parts)


def plots_section(ev: Evaluation, figures: dict[str, Any], *, prefix: str = "eval") -> Section:
    """The task's plots, each with one line on how to read it."""
    cells = [f'<div>{figure(figures[key], div_id=f"figure-{prefix}-{key}")}{_guide(_PLOT_GUIDES[key])}</div>'
             for key in _PLOT_ORDER if key in figures]
    intro = ("Pictures of how the predictions relate to the truth, chosen for the task; each has a line beneath "
             "it on how to read it. Large tables are sampled to at most a few thousand points, which keeps the "
             "shapes and the page light.")
    return Section("Plots", intro, Html(f'<div class="grid">{"".join(cells)}</div>'))


def threshold_section(ev: Evaluation, chart: Any = None, *, stored: bool | None = None) -> Section:
    """The decision threshold in use, its objective and costs, and cost against threshold.

    `stored` says whether training stored a threshold in the bundle (False: the default 0.5).
    """
    intro = ("A classifier gives a probability; the threshold turns it into a decision. 0.5 is rarely right when "
             "the two kinds of error cost differently: if a missed failure costs 20 false alarms, flag far earlier. "
             "The threshold in use is the one training stored in the bundle (chosen on out-of-fold predictions), "
             "else 0.5; the table and the curve measure it on the rows scored here.")
    if ev.task != "binary":
        return Section("Decision threshold", intro, paragraph(f"A threshold applies to binary tasks; this one is "
                                                                f"{ev.task}, so the most probable class is predicted."))
    choice = ev.threshold
    if choice is None:
        return Section("Decision threshold", intro, _note(
            "No threshold was chosen, so the class with the higher probability is predicted (0.5). To choose one "
            "for your costs, train again with the costs of a false alarm and of a miss."))
    facts = [("Threshold in use", number(choice.threshold)),
             ("Objective", metric_label(choice.objective) if stored is not False else "none (kiln's default 0.5)")]
    if choice.objective == "cost":
        facts += [("Cost of a false positive (false alarm)", f"{choice.cost_fp:g}"),
                  ("Cost of a false negative (miss)", f"{choice.cost_fn:g}")]
    elif stored is not False:
        facts.append(("Costs", "none given: F1 weighs a missed positive and a false alarm alike and ignores "
                               "true negatives; train with --cost-fp and --cost-fn to choose by cost"))
    facts.append((f"{metric_label(choice.objective)} at the threshold, on these rows", number(choice.value)))
    parts = [_facts(facts)]
    if stored is False:
        parts.append(_note("Training stored no threshold, so the default 0.5 is in use, which suits equal costs "
                           "and balanced classes only. If a miss and a false alarm cost differently, retrain with "
                           "their costs so kiln chooses the threshold on out-of-fold predictions; the curve below "
                           "shows what other thresholds would give."))
    if chart is not None:
        parts.append(figure(chart, div_id="figure-cost-curve"))
        costs = ("" if choice.objective == "cost" else
                 " The cost curve counts both mistakes as 1, since no costs were given.")
        parts.append(_guide("Expected cost per row (red) and F1 (blue) at every threshold on these rows; the "
                            "dotted line is the threshold in use. A flat bottom means nearby thresholds do about as "
                            f"well; click precision or recall in the legend to show them.{costs}"))
    return Section("Decision threshold", intro, "".join(parts))


def explanations_section(ev: Evaluation, chart: Any = None, *, contributions: pd.DataFrame | None = None,
                         shap: bool = False) -> Section:
    """Permutation importance with intervals, as a table and a chart; with `shap`, a SHAP
    summary of `contributions` after it (or a note on how to get one when there are none)."""
    intro = ("Permutation importance: how much the score drops when one feature's values are shuffled, breaking "
             "its link with the target. A large drop means the model leans on that feature; an interval that "
             "reaches zero means it could go without loss. It measures reliance, not cause.")
    if shap:
        intro += (" SHAP splits a prediction into contributions of each feature that add up to it; in the SHAP "
                  "summary each bar is how much that feature moves a prediction on average.")
    body = _importance_parts(ev, chart)
    if shap:
        body += _shap_parts(contributions)
    return Section("Explanations", intro, Html("".join(body)))


def _importance_parts(ev: Evaluation, chart: Any) -> list[str]:
    importance = ev.importance
    if importance is None or importance.empty:
        return [paragraph("No importance was computed for this evaluation.")]
    top = importance.sort_values("importance", ascending=False).head(MAX_IMPORTANCE_ROWS)
    rows = [{"feature": r["feature"], "importance": number(r["importance"]),
             "interval": interval(r["ci_low"], r["ci_high"])} for r in top.to_dict("records")]
    parts = [figure(chart, div_id="figure-importance")] if chart is not None else []
    parts.append(table(rows, ["feature", "importance", "interval"], headers={"interval": "95% interval"}))
    total = float(importance["importance"].clip(lower=0).sum())
    leader = top.iloc[0]
    if total > 0 and float(leader["importance"]) > 0.8 * total and len(importance) > 1:
        parts.append(_warning(f"'{leader['feature']}' carries most of the model. Make sure its value is known "
                              "when a prediction is made (not recorded after the outcome): a feature like that "
                              "leaks the answer and the model will fail in use."))
    if len(importance) > MAX_IMPORTANCE_ROWS:
        parts.append(paragraph(f"The {MAX_IMPORTANCE_ROWS} most important of {len(importance)} features are shown."))
    return parts


def _shap_parts(contributions: pd.DataFrame | None) -> list[str]:
    """The SHAP summary: mean |contribution| per feature, and each sampled row's contributions."""
    from kiln.report.plots import shap_bar_figure, shap_strip_figure

    parts: list[str] = ["<h3>SHAP summary</h3>"]
    if contributions is None or contributions.empty:
        parts.append(_note("No SHAP summary: it needs a model with a tree member (LightGBM, XGBoost, CatBoost, a "
                           "random forest). Permutation importance above works for any model; for a tree model, "
                           "`kiln.explain(model, rows)` gives each row's contributions."))
        return parts
    member = contributions.attrs.get("member")
    output = contributions.attrs.get("output", "output")
    parts.append(paragraph(f"Computed on {len(contributions):,} labelled rows drawn at random from those evaluated"
                           f"{f', for the member {member}' if member else ''}; contributions are in units of the "
                           f"{output}. A long bar is a feature that moves predictions a lot, in either direction."))
    parts.append(Html(f'<div class="grid">{figure(shap_bar_figure(contributions), div_id="figure-shap-bar")}'
                      f'{figure(shap_strip_figure(contributions), div_id="figure-shap-strip")}</div>'))
    parts.append(_guide("Right: each dot is one row's contribution from that feature; dots right of zero raise "
                        "the prediction, left of it lower it. A wide spread means the feature matters a lot for "
                        "some rows and little for others."))
    return parts


def slices_section(ev: Evaluation, chart: Any = None) -> Section:
    """The score within each level of each categorical feature, worse slices flagged."""
    intro = (f"The {metric_name(ev.metric)} within each level of a categorical feature (a slice), with its 95% "
             "interval. Each slice is tested against the overall score; with many slices some would look worse by "
             "chance, so the p-values are corrected together for the number of slices tested (Benjamini–Hochberg). "
             "A slice marked worse has a corrected p below 0.05 and lies on the bad side: the model serves that "
             "group less well than the rest.")
    slices = ev.slices
    if slices is None or slices.empty:
        return Section("Slices", intro, paragraph("No categorical feature to slice by."))
    shown = slices.head(MAX_SLICE_ROWS)
    rows = [{"column": r["column"], "level": r["level"], "rows": int(r["rows"]), "score": number(r["score"]),
             "interval": interval(r["ci_low"], r["ci_high"]), "overall": number(r["overall"]),
             "p": _p_text(r.get("p_value")), "corrected p": _p_text(r.get("p_adjusted")),
             "flag": badge("significantly worse", "warning") if bool(r["worse"]) else ""}
            for r in shown.to_dict("records")]
    parts = [figure(chart, div_id="figure-slices")] if chart is not None else []
    parts.append(table(rows, ["column", "level", "rows", "score", "interval", "overall", "p", "corrected p", "flag"],
                       headers={"interval": "95% interval", "corrected p": f"p corrected for {len(slices)} slices "
                                                                            "(Benjamini–Hochberg)"}))
    worse = [f"{r['column']} = {r['level']}" for r in slices.to_dict("records") if bool(r["worse"])]
    if worse:
        parts.append(_warning(f"Significantly worse on {', '.join(worse)}. Gather more labelled rows from these "
                              "groups, check their data for quality problems, or judge whether the model should "
                              "serve them at all; say so in the model card."))
    return Section("Slices", intro, "".join(parts))


def _p_text(value: Any) -> str:
    from kiln.evaluation.compare import format_p

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return format_p(float(value))


def model_card(model: Any, *, evaluated_on: str | None = None, intended_use: str | None = None) -> dict[str, Any]:
    """The facts of a model card, read from the model's manifest (plain data, JSON-ready)."""
    manifest = model.manifest
    training, cv = manifest.get("training", {}), manifest.get("cv", {})
    datetimes = [c.name for c in model.schema.columns if c.kind == "datetime"]
    period = training.get("period") or (f"not recorded (date columns: {', '.join(datetimes)})" if datetimes
                                        else "not recorded (the table has no date column)")
    use = intended_use or manifest.get("intended_use") or (
        f"Predict '{model.target.name}' ({model.task}) for new rows like the training data: the same columns "
        "with the same meaning, from the same population and period. It was not validated elsewhere; once "
        "deployed, watch for drift with `kiln monitor`.")
    return {
        "model": cv.get("model"), "task": model.task, "target": model.target.name,
        "classes": [str(c) for c in (model.classes_ or [])], "metric": model.metric, "intended_use": use,
        "data": {"rows": training.get("rows"), "columns": training.get("columns"), "period": period,
                 "fingerprint": training.get("data_sha256")},
        "evaluated_on": evaluated_on, "decision": manifest.get("decision"),
        "cv": {"score": cv.get("score"), "ci_low": cv.get("ci_low"), "ci_high": cv.get("ci_high"),
               "folds": cv.get("n_folds")},
        "training": {"seconds": training.get("seconds"), "time_limit": training.get("time_limit"),
                     "trials": training.get("trials"), "seed": training.get("seed"),
                     "created": manifest.get("created"), "kiln_version": manifest.get("kiln_version")},
        "limitations": list(manifest.get("findings", [])),
        "libraries": dict(manifest.get("libraries", {})),
    }


def model_card_section(ev: Evaluation, card: dict | None) -> Section:
    """A model card a reader can lift whole: use, data, metrics, threshold, limits, versions."""
    intro = ("A summary to copy whole into documentation: what the model is for, what it learned from, how good "
             "it is (with intervals) and where it is weak. Review the intended use and limitations before you "
             "share it; kiln can only state what it measured.")
    if card is None:
        return Section("Model card", intro, paragraph("No model was given, so only the evaluation is known; "
                                                      "render with `model_card(model)` for the full card."))
    data, training, cv = card.get("data", {}), card.get("training", {}), card.get("cv", {})
    fingerprint = str(data.get("fingerprint") or "")[:16] or "—"
    parts = [f"<h3>{escape(card.get('model') or 'Model')}: predicts {escape(card.get('target'))}</h3>",
             "<h4>Intended use</h4>", paragraph(card.get("intended_use", "")),
             "<h4>Data</h4>", _facts([
                 ("Training rows", data.get("rows")), ("Columns", data.get("columns")), ("Period", data.get("period")),
                 ("Fingerprint (sha256 of the table)", fingerprint), ("Task", card.get("task")),
                 ("Classes", ", ".join(card.get("classes") or []) or "—"),
                 ("Evaluated on", card.get("evaluated_on") or "—")]),
             "<h4>Metrics (95% intervals)</h4>",
             table([{"metric": metric_name(s.metric, ev.classes), "value": number(s.value),
                     "interval": interval(s.ci_low, s.ci_high), "baseline": number(s.baseline)} for s in ev.scores],
                   ["metric", "value", "interval", "baseline"], headers={"interval": "95% interval"}),
             "<h4>Decision threshold and costs</h4>", _threshold_fact(ev, card.get("decision")),
             "<h4>Known limitations</h4>", _limitations(ev, card.get("limitations", [])),
             "<h4>Training</h4>", _facts([
                 ("Selection metric", metric_name(card.get("metric", ""))),
                 ("Cross-validated score", f"{number(cv.get('score'))} "
                                           f"({interval(cv.get('ci_low'), cv.get('ci_high'))})"),
                 ("Folds", cv.get("folds")), ("Trials", training.get("trials")),
                 ("Training seconds (budget)", f"{training.get('seconds')} ({training.get('time_limit')})"),
                 ("Seed", training.get("seed")), ("Created", training.get("created")),
                 ("kiln version", training.get("kiln_version"))]),
             "<h4>Library versions</h4>",
             _facts(sorted((name, version or "not installed") for name, version in card.get("libraries", {}).items()))]
    return Section("Model card", intro, Html(f'<div class="model-card">{"".join(parts)}</div>'))


def _threshold_fact(ev: Evaluation, decision: dict | None) -> Html:
    if ev.task == "regression":
        return paragraph("Not applicable: the model predicts a number, not a class.")
    if ev.task != "binary":
        return paragraph("Not applicable: the most probable class is predicted.")
    choice = ev.threshold
    if choice is None or not decision:
        return paragraph("None stored: a row is positive when its probability is at least 0.5 (kiln's default, "
                         "right only when both mistakes cost the same).")
    if choice.objective != "cost":
        return paragraph(f"Threshold {number(choice.threshold)} on the probability of the positive class, chosen on "
                         f"out-of-fold predictions to maximise {metric_label(choice.objective)} (no costs given).")
    return paragraph(f"Threshold {number(choice.threshold)} on the probability of the positive class, chosen on "
                     f"out-of-fold predictions to minimise the expected cost with a false positive "
                     f"costing {choice.cost_fp:g} and a false negative {choice.cost_fn:g}.")


def _limitations(ev: Evaluation, findings: Sequence[dict]) -> Html:
    items = [f"<li>{badge(f.get('severity', 'info'), f.get('severity', 'info'))} <b>{escape(f.get('code'))} "
             f"{escape(f.get('title'))}</b>{escape(' (' + f['column'] + ')') if f.get('column') else ''}: "
             f"{escape(f.get('detail'))} {escape(f.get('advice'))}</li>" for f in findings]
    slices = ev.slices
    if slices is not None and not slices.empty:
        items += [f"<li>{badge('slice', 'warning')} Significantly worse for {escape(r['column'])} = "
                  f"{escape(r['level'])}: {escape(number(r['score']))} against {escape(number(r['overall']))} "
                  f"overall (corrected {escape(_p_text(r.get('p_adjusted')))}).</li>"
                  for r in slices.to_dict("records") if bool(r["worse"])]
    traded = {s.metric for s in threshold_traded(ev)}
    weak = [metric_name(s.metric, ev.classes) for s in ev.scores if beats_baseline(s) is False
            and s.metric not in traded]
    if traded:
        items.append(f"<li>{badge('threshold', 'info')} "
                     f"{escape(', '.join(metric_name(m) for m in sorted(traded)))} below the majority-class "
                     f"baseline at the threshold in use ({escape(number(ev.threshold.threshold))}): the trade "
                     "its objective asked for, not a weakness of the ranking.</li>")
    if weak:
        items.append(f"<li>{badge('scores', 'warning')} Not clearly better than a trivial baseline on "
                     f"{escape(', '.join(weak))}.</li>")
    if not items:
        return paragraph("The data checks and this evaluation found none; that is not proof there are none.")
    return Html(f"<ul>{''.join(items)}</ul>")


def _facts(pairs: Sequence[tuple[str, Any]]) -> Html:
    return table([{"fact": k, "value": "—" if v is None else v} for k, v in pairs], ["fact", "value"],
                 headers={"fact": "", "value": ""})


def _guide(text: str) -> Html:
    return Html(f'<p class="note">{escape(text)}</p>')


def _note(text: str) -> Html:
    return _callout("note", "info", text)


def _warning(text: str) -> Html:
    return _callout("warning", "warning", text)


def _callout(label: str, tone: str, text: str) -> Html:
    """A badge beside a paragraph: a note or a warning that says what to do next."""
    return Html(f'<div class="callout" style="display:flex;gap:.6rem;align-items:baseline">{badge(label, tone)}'
                f"{paragraph(text)}</div>")
