"""The evaluation report: self-contained, every section, the Evaluation's own numbers, user text escaped."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from kiln.data.schema import Column, Schema
from kiln.evaluation.compare import Comparison
from kiln.evaluation.holdout_compare import HoldoutTest
from kiln.evaluation.result import Evaluation
from kiln.evaluation.scores import score_table
from kiln.evaluation.threshold import threshold_at
from kiln.report.evaluation import evaluation_json, model_card, number, render_evaluation
from kiln.report.html import table
from kiln.report.plots import evaluation_figures

SECTIONS = ["Scores", "Leaderboard with statistics", "Plots", "Decision threshold", "Explanations", "Slices",
            "Model card"]
ODD_CLASS = "<b>fail</b>"


def _evaluation(task: str, n: int = 400, seed: int = 0) -> Evaluation:
    rng = np.random.default_rng(seed)
    if task == "regression":
        y = rng.normal(50, 10, n)
        prediction = y + rng.normal(0, 4, n)
        classes = None
    else:
        k = 2 if task == "binary" else 3
        y = rng.integers(0, k, n)
        logits = rng.normal(0, 1, (n, k))
        logits[np.arange(n), y] += 1.5
        prediction = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        classes = ["ok", ODD_CLASS] if k == 2 else ["a", "b", ODD_CLASS]
    metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[task]
    threshold = threshold_at(y, prediction[:, 1], 0.4, objective="cost", cost_fp=1, cost_fn=20) \
        if task == "binary" else None
    slices = pd.DataFrame({"column": ["Type"] * 3, "level": ["L", "M", "<H>"], "rows": [200, 150, 50],
                           "score": [0.9, 0.88, 0.6], "ci_low": [0.87, 0.84, 0.5], "ci_high": [0.93, 0.92, 0.7],
                           "overall": 0.87, "p_value": [0.3, 0.6, 0.0004], "p_adjusted": [0.45, 0.6, 0.0012],
                           "worse": [False, False, True]})
    importance = pd.DataFrame({"feature": ["Torque [Nm]", "Tool wear [min]", "<script>x</script>"],
                               "importance": [0.12, 0.05, 0.0], "ci_low": [0.1, 0.03, -0.01],
                               "ci_high": [0.14, 0.07, 0.01]})
    comparisons = [Comparison("cat", "lgbm", 0.004, 0.41, "corrected resampled t-test (Nadeau & Bengio), 5 folds",
                              "LightGBM and CatBoost are not distinguishable on this data (p = 0.41)."),
                   Comparison("knn", "lgbm", 0.1, 0.0004, "corrected resampled t-test (Nadeau & Bengio), 5 folds",
                              "LightGBM is better than KNN (p < 0.001).")]
    tests = [HoldoutTest("served model", "its best member lgbm (lightgbm)", metric, 0.951, 0.944, 0.007, -0.002,
                         0.016, 0.13, "delong", n, "On these rows the served model and its best member lgbm "
                         "(lightgbm) cannot be told apart: roc_auc 0.9510 vs 0.9440."),
             HoldoutTest("served model", "trivial baseline", metric, 0.951, 0.5, 0.451, 0.42, 0.48, 0.0, "delong", n,
                         "On these rows the served model is better than trivial baseline: roc_auc 0.9510 vs 0.5000.")]
    return Evaluation(task, metric, classes, y, prediction, score_table(y, prediction, task, n_boot=200),
                      threshold, slices, importance, comparisons, tests)


def _leaderboard() -> pd.DataFrame:
    return pd.DataFrame({"rank": [1, 2, 3, 4], "model": ["ensemble", "lgbm", "cat", "knn"],
                         "learner": ["ensemble", "lightgbm", "catboost", "knn"], "metric": "roc_auc",
                         "score": [0.95, 0.94, 0.935, 0.8], "ci_low": [0.93, 0.92, 0.91, 0.75],
                         "ci_high": [0.97, 0.96, 0.95, 0.85], "status": "ok"})


def _model() -> SimpleNamespace:
    manifest = {"cv": {"model": "ensemble", "score": 0.95, "ci_low": 0.93, "ci_high": 0.97, "n_folds": 5},
                "training": {"rows": 7500, "columns": 9, "data_sha256": "ab" * 32, "seed": 0, "time_limit": 20,
                             "seconds": 19.2, "trials": 31},
                "findings": [{"code": "DQ006", "severity": "info", "title": "Identifier column", "column": "UDI",
                              "detail": "UDI is unique in every row.", "advice": "kiln drops it."}],
                "libraries": {"lightgbm": "4.6.0", "scikit-learn": "1.7.0"}, "kiln_version": "0.1.0",
                "created": "2025-01-01T00:00:00+00:00"}
    schema = Schema([Column("Torque [Nm]", "numeric", False)])
    return SimpleNamespace(manifest=manifest, schema=schema, task="binary", classes_=[0, 1], metric="roc_auc",
                           target=SimpleNamespace(name="Machine failure"))


@pytest.fixture(scope="module")
def binary_page() -> tuple[str, Evaluation]:
    ev = _evaluation("binary")
    card = model_card(_model(), evaluated_on="test.csv (400 rows)")
    return render_evaluation(ev, title="Evaluation of <Machine failure>", model_card=card,
                             leaderboard=_leaderboard()), ev


def test_report_needs_nothing_from_the_network_and_embeds_plotly_once(binary_page) -> None:
    page, _ = binary_page

    assert "<script src=" not in page and "<link" not in page
    own = page.replace(get_plotlyjs(), "")
    assert "http://" not in own and "https://" not in own
    assert page.count(get_plotlyjs()) == 1


def test_report_has_every_section_in_order(binary_page) -> None:
    page, _ = binary_page

    positions = [page.index(f"<h2>{title}</h2>") for title in SECTIONS]
    assert positions == sorted(positions)
    for h4 in ("Intended use", "Data", "Metrics (95% intervals)", "Decision threshold and costs",
               "Known limitations", "Training", "Library versions"):
        assert f"<h4>{h4}</h4>" in page


def test_report_draws_one_chart_per_figure(binary_page) -> None:
    page, ev = binary_page

    expected = evaluation_figures(ev, leaderboard=_leaderboard())
    assert set(expected) == {"roc", "pr", "calibration", "score_distribution", "confusion", "cost_curve",
                             "comparison", "importance", "slices"}
    assert page.count('class="plotly-graph-div"') == len(expected)


def test_report_escapes_user_text(binary_page) -> None:
    page, _ = binary_page

    for raw in (ODD_CLASS, "<script>x</script>", "<Machine failure>", "<H>"):
        assert raw not in page
    assert "&lt;b&gt;fail&lt;" in page  # in the charts' labels (Plotly renders HTML there)
    assert "&lt;script&gt;x&lt;/script&gt;" in page  # in the importance table


def test_report_shows_the_evaluation_own_numbers(binary_page) -> None:
    page, ev = binary_page

    for score in ev.scores:
        assert number(score.value) in page and f"{number(score.ci_low)} – {number(score.ci_high)}" in page
    assert "LightGBM and CatBoost are not distinguishable on this data (p = 0.41)." in page
    assert number(ev.threshold.threshold) in page and "cost" in page


def test_report_says_which_tests_use_these_rows_and_which_come_from_training(binary_page) -> None:
    page, _ = binary_page

    section = page.split("<h2>Leaderboard with statistics</h2>")[1].split("<h2>")[0]
    here, training = section.split("From training: the candidates on the cross-validation folds (not these rows)")
    assert "On these 400 rows: the served model against its best member and a trivial baseline" in here
    assert "cannot be told apart: roc_auc 0.9510 vs 0.9440" in here and "p = 0.13" in here
    assert "LightGBM is better than KNN" not in here
    assert "From training: LightGBM is better than KNN (p &lt; 0.001)." in training


def test_slices_show_the_p_value_corrected_for_the_slices_tested(binary_page) -> None:
    page, _ = binary_page

    section = page.split("<h2>Slices</h2>")[1].split("<h2>")[0]
    assert "p corrected for 3 slices (Benjamini–Hochberg)" in section and "p = 0.001" in section
    assert "(corrected p = 0.001)" in page  # the model card's limitation names the corrected value


def test_report_warnings_say_what_to_do(binary_page) -> None:
    page, _ = binary_page

    assert "Significantly worse on Type = &lt;H&gt;" in page and "Gather more labelled rows" in page
    assert "could not be told from the best on the training folds" in page
    assert "DQ006" in page and "4.6.0" in page and "abababababababab" in page  # the card: findings, versions, data


@pytest.mark.parametrize(("task", "charts"), [("multiclass", {"confusion", "per_class"}),
                                              ("regression", {"predicted_vs_actual", "residuals",
                                                              "residual_distribution"})])
def test_other_tasks_render_their_own_plots(task: str, charts: set[str]) -> None:
    ev = _evaluation(task)

    page = render_evaluation(ev, title="t")

    assert set(evaluation_figures(ev)) == charts | {"importance", "slices"}
    assert page.count('class="plotly-graph-div"') == len(charts) + 2
    # a regression model predicts a value: no decision threshold section (issue 13, item 4)
    shown = [t for t in SECTIONS if task != "regression" or t != "Decision threshold"]
    assert all(f"<h2>{title}</h2>" in page for title in shown)
    assert ("<h2>Decision threshold</h2>" in page) == (task == "multiclass")
    assert ("applies to binary tasks" in page) == (task == "multiclass")
    assert "most probable class" not in page or task == "multiclass"
    if task == "multiclass":
        assert "recall of class &lt;b&gt;fail&lt;/b&gt;" in page  # recall[2] named by its class


def test_regression_model_card_says_no_threshold_applies() -> None:
    card = model_card(_model())
    page = render_evaluation(_evaluation("regression"), title="t", model_card=card)

    section = page.split("<h4>Decision threshold and costs</h4>")[1].split("<h4>")[0]
    assert "the model predicts a number, not a class" in section and "most probable class" not in page


def _imbalanced(objective: str) -> Evaluation:
    """Rare positives ranked well, with a low threshold: flags far more rows than the majority baseline."""
    rng = np.random.default_rng(4)
    n = 2000
    y = (rng.random(n) < 0.04).astype(int)
    positive = np.clip(0.03 + 0.25 * y + rng.normal(0, 0.04, n), 0.001, 0.999)
    prediction = np.column_stack([1 - positive, positive])
    threshold = threshold_at(y, positive, 0.06, objective=objective, cost_fp=1, cost_fn=20)
    return Evaluation("binary", "roc_auc", ["ok", "fail"], y, prediction,
                      score_table(y, prediction, "binary", threshold=0.06, n_boot=200), threshold,
                      pd.DataFrame(), pd.DataFrame(), [])


def test_accuracy_below_the_baseline_from_a_cost_threshold_is_explained_not_blamed() -> None:
    ev = _imbalanced("cost")
    accuracy = next(s for s in ev.scores if s.metric == "accuracy")
    assert accuracy.ci_high < accuracy.baseline  # the situation of issue 13, item 2

    page = render_evaluation(ev, title="t", model_card=model_card(_model()))

    scores = page.split("<h2>Scores</h2>")[1].split("<h2>")[0]
    assert "below it: the threshold&#x27;s trade" in scores and "not clearly better" not in scores
    assert (f"Accuracy {number(accuracy.value)} (baseline {number(accuracy.baseline)}): below the baseline because "
            "of the decision threshold, not a weak model") in scores
    assert "minimise the expected cost with a false positive costing 1 and a false negative 20" in scores
    assert "give training more time" not in scores
    card = page.split("<h4>Known limitations</h4>")[1].split("<h4>")[0]
    assert "Not clearly better than a trivial baseline" not in card and "the trade its objective asked for" in card


def test_f1_threshold_quotes_no_costs() -> None:
    ev = _imbalanced("f1")
    card = model_card(_model())
    card["decision"] = {"threshold": 0.06, "objective": "f1", "cost_fp": 1.0, "cost_fn": 1.0}

    page = render_evaluation(ev, title="t", model_card=card)

    threshold = page.split("<h2>Decision threshold</h2>")[1].split("<h2>")[0]
    assert "Cost of a false positive" not in threshold and "F1 weighs a missed positive" in threshold
    fact = page.split("<h4>Decision threshold and costs</h4>")[1].split("<h4>")[0]
    assert "to maximise F1 (no costs given)" in fact and "costing" not in fact
    assert "chosen to maximise F1" in page.split("<h2>Scores</h2>")[1].split("<h2>")[0]


def test_evaluation_json_is_plain_data() -> None:
    import json

    ev = _evaluation("binary")
    data = json.loads(json.dumps(evaluation_json(ev)))

    assert data["rows"] == 400 and {s["metric"] for s in data["scores"]} >= {"roc_auc", "pr_auc", "brier"}
    assert data["threshold"]["cost_fn"] == 20 and len(data["comparisons"]) == 2 and len(data["slices"]) == 3
    assert data["comparisons_source"].startswith("training") and data["tests_source"] == "the evaluated rows"
    assert [t["other"] for t in data["tests"]] == ["its best member lgbm (lightgbm)", "trivial baseline"]
    assert data["slices"][2]["p_adjusted"] == 0.0012
    assert data["comparisons_missing"] is None  # two comparisons were made


def test_evaluation_json_says_why_no_comparison_was_made() -> None:
    import dataclasses
    import json

    ev = dataclasses.replace(_evaluation("binary"), comparisons=[], not_compared="only 1 candidate learned")

    data = json.loads(json.dumps(evaluation_json(ev)))

    assert data["comparisons"] == [] and data["comparisons_missing"] == "only 1 candidate learned"


def _contributions(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"Torque [Nm]": rng.normal(0, 1.5, n), "<script>x</script>": rng.normal(0, 0.2, n),
                          "base_value": -2.0})
    frame.attrs.update({"member": "lgbm", "learner": "lightgbm", "output": "log-odds of class 1"})
    return frame


def test_report_adds_a_shap_summary_from_contributions() -> None:
    ev = _evaluation("binary")

    page = render_evaluation(ev, title="t", contributions=_contributions())

    assert "<h3>SHAP summary</h3>" in page and "Computed on 300 labelled rows" in page
    assert 'id="figure-shap-bar"' in page and 'id="figure-shap-strip"' in page
    assert "each bar is how much that feature moves a prediction on average" in page
    assert page.count('class="plotly-graph-div"') == len(evaluation_figures(ev)) + 2
    assert "<script>x</script>" not in page


def test_report_without_contributions_says_how_to_get_a_shap_summary(binary_page) -> None:
    page, _ = binary_page

    assert "No SHAP summary: it needs a model with a tree member" in page
    assert "figure-shap-bar" not in page


def test_report_tables_keep_badges_and_codes_on_one_line_and_facts_have_no_header(binary_page) -> None:
    page, _ = binary_page

    assert '<td class="nowrap"><span class="badge' in page  # the baseline verdicts
    assert "<th></th>" not in page  # fact tables (threshold, model card) have no empty header bar
    assert ".badge{white-space:nowrap}" in page
    assert '"displayModeBar": "hover"' in page
    assert '<td class="nowrap">DQ009</td>' in table([{"code": "DQ009", "text": "a sentence"}], ["code", "text"])


def test_a_text_classifier_gets_its_tables_with_the_messages_escaped() -> None:
    from dataclasses import replace

    from kiln.evaluation.text import TextEvaluation

    ev = _evaluation("multiclass")
    hostile = "<script>alert('x')</script> the press leaks"
    text = TextEvaluation(
        per_class=pd.DataFrame({"class": ["a", "b", ODD_CLASS], "support": [130, 140, 130],
                                "precision": [0.81, 0.72, 0.93], "recall": [0.77, 0.7, 0.91]}),
        confused=pd.DataFrame([{"true": "a", "predicted": "b", "rows": 17, "examples": [hostile, "jammed again"]}]),
        coverage=pd.DataFrame({"threshold": np.linspace(0.3, 0.9, 8), "coverage": np.linspace(1.0, 0.3, 8),
                               "accuracy": np.linspace(0.8, 0.99, 8)}),
        ngrams=pd.DataFrame({"class": ["a", "a", "b"], "ngram": ["leak", " le", "<jam>"],
                             "kind": ["word", "char", "word"], "weight": [2.5, 1.25, 3.0]}),
        ngrams_source="the coefficients of the linear member linear_0",
        reject={"threshold": 0.4321, "label": "out_of_scope", "coverage": 0.875, "accuracy": 0.9612},
    )
    page = render_evaluation(replace(ev, text=text), title="t")
    section = page[page.index("<h2>Text classification</h2>"):page.index("<h2>Leaderboard with statistics</h2>")]
    scores = {s.metric: s for s in ev.scores}
    for name in ("accuracy", "macro_f1"):
        assert number(scores[name].value) in section and number(scores[name].ci_low) in section
    assert "macro-F1" in section and "0.930" in section and "0.910" in section  # ODD_CLASS's precision, recall
    assert hostile not in page and "&lt;script&gt;alert(" in section and "jammed again" in section
    assert "<jam>" not in page and "&lt;jam&gt; (3.00)" in section
    assert "leak (2.50)" in section and "&#39; le&#39; (1.25)" in section  # a char n-gram quoted
    assert 'id="figure-eval-coverage"' in section and "0.4321" in section and "87.5%" in section
    assert "linear_0" in section
    assert "Text classification" not in render_evaluation(ev, title="t")  # no text column: no section
    assert evaluation_json(replace(ev, text=text))["text"]["ngrams"][2]["ngram"] == "<jam>"
