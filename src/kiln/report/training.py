"""The training report written into every bundle as `report.html`.

It shows what the leaderboard and the data checks found, in the same words and numbers
as `kiln leaderboard` and `kiln profile`, and the out-of-fold evaluation (scores with
intervals against a baseline, plots, the decision threshold, paired tests of the
candidates, the model card) rendered by the evaluation report's own section builders.
"""

from __future__ import annotations

from typing import Any

from kiln.report.html import Section, badge, paragraph, render_page, table
from kiln.report.plots import metric_label


def render_training(model: Any) -> str:
    """The model's training summary as a self-contained HTML page."""
    manifest = model.manifest
    cv, training = manifest.get("cv", {}), manifest.get("training", {})
    oof = _oof_sections(model)  # scores, statistics, plots, ..., model card
    curve = [_learning_curve(manifest["learning_curve"])] if manifest.get("learning_curve") else []
    sections = [_summary(model, cv, training), *oof[:1], _leaderboard(model), *oof[1:-1], *curve,
                _findings(manifest.get("findings", [])), _columns(model), *oof[-1:]]
    subtitle = f"{model.task} · {training.get('rows', 0):,} rows · metric {metric_label(model.metric)}"
    return render_page(f"Training report: {model.target.name}", sections, subtitle=subtitle)


def _learning_curve(curve: dict) -> Section:
    from kiln.report.html import figure
    from kiln.report.plots import learning_curve_figure

    intro = ("How the cross-validated score of the best single configuration grows with the rows it learns "
             "from (the same validation folds, the training part subsampled). Still rising at the right: more "
             "data would likely help. Flat: the model has learned what these features can give; better "
             "features help more than more rows.")
    rows = [{"rows": p["rows"], "share of rows": f"{100 * p['fraction']:.0f}%", "score": p["score"],
             "ci_low": p["ci_low"], "ci_high": p["ci_high"]} for p in curve["points"]]
    body = figure(learning_curve_figure(curve), div_id="figure-learning-curve") + table(
        rows, ["rows", "share of rows", "score", "ci_low", "ci_high"])
    return Section("Learning curve", intro, body)


def _oof_sections(model: Any) -> list[Section]:
    """Scores, statistics, plots, threshold and model card of the out-of-fold predictions;
    none for a model without them (a bundle from before they were kept)."""
    if model.oof is None:
        return []
    from kiln.evaluation.result import oof_evaluation
    from kiln.report import evaluation as report
    from kiln.report.plots import evaluation_figures

    ev = oof_evaluation(model)
    board = model.leaderboard()
    figures = evaluation_figures(ev, leaderboard=board)
    where = "out-of-fold predictions: each training row scored by the fold model that did not see it"
    sections = [report.scores_section(ev, where=where, note=_pooled_note(model, ev)),
                report.statistics_section(ev, figures.get("comparison"), leaderboard=board, show_board=False),
                report.plots_section(ev, figures, prefix="oof")]
    if ev.task == "binary":
        sections.append(report.threshold_section(ev, figures.get("cost_curve"),
                                                 stored=bool(model.manifest.get("decision"))))
    if ev.importance is not None and not ev.importance.empty:
        sections.append(report.explanations_section(ev, figures.get("importance")))
    if ev.slices is not None and not ev.slices.empty:
        sections.append(report.slices_section(ev, figures.get("slices")))
    card = report.model_card(model, evaluated_on="out-of-fold predictions on the training rows")
    sections.append(report.model_card_section(ev, card))
    return sections


def _pooled_note(model: Any, ev: Any) -> str | None:
    """The Scores table's pooled value of the selection metric beside the Summary's mean of folds:
    two honest numbers from the same predictions, which differ, so the page says which is which."""
    cv = model.manifest.get("cv", {})
    pooled = next((s for s in ev.scores if s.metric == model.metric), None)
    if pooled is None or cv.get("score") is None:
        return None
    name, folds = metric_label(model.metric), cv.get("n_folds")
    why = {"roc_auc": "AUC ranks rows, and pooling ranks the rows of one fold model against those of another, "
                      "whose probabilities are not on quite the same scale",
           "rmse": "the root of the pooled mean squared error is never below the mean of the folds' roots"}.get(
        model.metric, "a fold's score is not a plain average over its rows, so the mean of the folds' scores "
                      "and the score of all rows pooled differ a little")
    return (f"{name} {pooled.value:.4f} here is pooled: all {len(ev.y_true):,} out-of-fold predictions scored at "
            f"once, with a bootstrap interval over rows. The Summary's and the leaderboard's {cv['score']:.4f} is "
            f"the mean of the {folds} folds' scores, each fold scored on its own, with an interval across folds "
            f"(Nadeau–Bengio): it is the one that ranks the candidates and chose the model. They differ because "
            f"{why}.")


def _final_models(final: dict[str, str]) -> str:
    """What each kept member predicts with (the manifest's `final_models`)."""
    if not final:
        return "the cross-validation fold models, averaged"
    said = {"all_rows": "refitted on all rows", "cv_folds": "its cross-validation fold models, averaged"}
    return "; ".join(f"{name}: {said.get(how, how)}" for name, how in final.items())


def _summary(model: Any, cv: dict, training: dict) -> Section:
    folds = cv.get("n_folds")
    facts = [
        ("Model used for prediction", cv.get("model")),
        (f"Cross-validated {metric_label(model.metric)} (mean of the {folds} folds' scores)",
         f"{cv.get('score', float('nan')):.4f}"),
        ("95% interval (across folds, Nadeau–Bengio)",
         f"{cv.get('ci_low', float('nan')):.4f} – {cv.get('ci_high', float('nan')):.4f}"),
        ("Folds", folds), ("Trials", training.get("trials")),
        ("Seconds (budget)", f"{training.get('seconds')} ({training.get('time_limit')})"),
        ("Classes", ", ".join(map(str, model.classes_ or [])) or "—"),
        ("Final models", _final_models(model.manifest.get("final_models") or {})),
        ("Data fingerprint", str(training.get("data_sha256", ""))[:16]),
    ]
    intro = ("Every score here comes from rows the model did not see while fitting (out-of-fold). The interval "
             "says how much the score moves between folds: two models whose intervals overlap a lot may not "
             "really differ.")
    return Section("Summary", intro, table([{"fact": k, "value": v} for k, v in facts], ["fact", "value"],
                                           headers={"fact": "", "value": ""}))


def _leaderboard(model: Any) -> Section:
    from kiln.ensemble.single_member import single_member

    board, member = single_member(model.leaderboard())
    rows = board.to_dict("records")
    columns = ["rank", "model", "learner", "origin", "score", "ci_low", "ci_high", "fit_s", "predict_s_per_1k",
               "status", "used"]
    direction = "higher" if model.manifest.get("cv", {}).get("greater_is_better", True) else "lower"
    intro = (f"Each trial is one learner configuration scored by cross-validation ({direction} "
             f"{metric_label(model.metric)} is "
             "better; the score is the mean of the folds'). `truncated`: the time budget stopped a fold "
             "after it had learned; `unlearned`: stopped before it learned (never kept); `skipped`: too "
             "little time was left to start it; `used` marks the predictor.")
    if member is not None:
        intro += (f" Ensemble selection kept {member} alone: that ensemble is {member} itself (same predictions, "
                  "same score), so it is listed once.")
    return Section("Leaderboard", intro, table(rows, columns, headers={"predict_s_per_1k": "predict s / 1k rows"}))


def _findings(findings: list[dict]) -> Section:
    if not findings:
        return Section("Data checks", "The data checks found nothing to report.", paragraph("No findings."))
    rows = [{**f, "severity": badge(f["severity"], f["severity"])} for f in findings]
    intro = ("The coded data checks `kiln profile` runs, run again before training. Warnings did not stop "
             "training but may weaken the model; silence one with `--ignore CODE`.")
    return Section("Data checks", intro, table(rows, ["code", "severity", "title", "column", "detail", "advice"]))


def _columns(model: Any) -> Section:
    rows = [{"column": c.name, "kind": c.kind, "may be missing": c.nullable, "discrete": c.discrete,
             "min": c.minimum, "max": c.maximum,
             "categories": None if c.categories is None else len(c.categories)} for c in model.schema.columns]
    rows += [{"column": name, "kind": f"dropped: {reason}"} for name, reason in model.schema.dropped.items()]
    intro = ("The data contract learned from the training table: predictions check new data against it, refuse "
             "missing required columns and unreadable values, and count unseen categories and out-of-range values.")
    return Section("Columns and data contract", intro,
                   table(rows, ["column", "kind", "may be missing", "discrete", "min", "max", "categories"]))
