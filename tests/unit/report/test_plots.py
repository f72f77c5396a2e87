"""Each evaluation figure builds from plain arrays, has its traces, and stays small on many rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kiln.evaluation.compare import Comparison
from kiln.evaluation.threshold import ThresholdChoice
from kiln.report import plots

BIG = 50_000


def _binary(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype("int64")
    p = np.clip(0.2 + 0.5 * (y - 0.2) + rng.normal(0, 0.2, n), 0, 1)
    return y, p


def _names(figure) -> list[str]:
    return [trace.name for trace in figure.data]


def test_roc_and_pr_curves_draw_the_model_against_chance() -> None:
    y, p = _binary(300)

    roc, pr = plots.roc_figure(y, p), plots.pr_figure(y, p)

    assert _names(roc) == ["chance", "model"] and roc.data[1].x[0] == 0 and roc.data[1].y[-1] == 1
    assert _names(pr)[1] == "model" and _names(pr)[0].startswith("no skill")


@pytest.mark.parametrize("build", [plots.roc_figure, plots.pr_figure])
def test_curves_are_thinned_on_many_rows(build) -> None:
    y, p = _binary(BIG)

    curve = build(y, p).data[1]

    assert len(curve.x) <= plots.MAX_CURVE_POINTS and len(curve.x) == len(curve.y)


def test_curves_of_a_single_class_say_why_they_are_empty() -> None:
    figure = plots.roc_figure(np.zeros(20, dtype=int), np.linspace(0, 1, 20))

    assert not figure.data and "both classes" in figure.layout.annotations[0].text


def test_calibration_of_calibrated_scores_follows_the_diagonal() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(BIG)
    y = (rng.random(BIG) < p).astype(int)

    figure = plots.calibration_figure(y, p, bins=10)

    diagonal, model = figure.data
    assert list(diagonal.x) == [0, 1] and list(diagonal.y) == [0, 1]
    assert len(model.x) == 10
    assert np.allclose(model.x, model.y, atol=0.03)


def test_score_distribution_is_pre_binned_per_class_with_the_threshold() -> None:
    y, p = _binary(BIG)

    figure = plots.score_distribution_figure(y, p, ["ok", "failure"], threshold=0.3)

    assert [t.type for t in figure.data] == ["bar", "bar"]
    assert all(len(t.x) == plots.HISTOGRAM_BINS for t in figure.data)
    assert np.isclose(np.sum(figure.data[0].y), 1.0, atol=1e-4)  # shares of the class's rows
    assert figure.layout.shapes[0].x0 == 0.3


def test_confusion_counts_and_normalised_shares() -> None:
    y_true, y_pred = np.array([0, 0, 0, 1, 1, 2]), np.array([0, 0, 1, 1, 1, 0])

    counts = plots.confusion_figure(y_true, y_pred, ["a", "b", "c"], normalize=False).data[0]
    shares = plots.confusion_figure(y_true, y_pred, ["a", "b", "c"], normalize=True).data[0]

    assert np.array_equal(np.asarray(counts.z), [[2, 1, 0], [0, 2, 0], [1, 0, 0]])
    assert np.allclose(np.asarray(shares.z).sum(axis=1), 1.0)


def test_labels_are_escaped_because_plotly_renders_html() -> None:
    figure = plots.confusion_figure(np.array([0, 1]), np.array([0, 1]), ["<b>x</b>", "y"], normalize=False)

    assert "&lt;b&gt;x&lt;/b&gt;" in list(figure.data[0].x) and "<b>x</b>" not in figure.to_json()


def test_per_class_frame_and_figure() -> None:
    frame = plots.per_class_frame(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 1]), ["a", "b", "c"])

    assert frame["recall"].tolist()[:2] == [0.5, 1.0] and frame["precision"].tolist()[1] == 0.5
    assert frame["rows"].tolist() == [2, 2, 1] and np.isnan(frame["precision"].iloc[2])
    assert _names(plots.per_class_figure(frame)) == ["precision", "recall", "f1"]


def test_regression_scatters_are_sampled_and_histograms_binned() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(10, 3, BIG)
    yhat = y + rng.normal(0, 1, BIG)

    versus = plots.predicted_vs_actual_figure(y, yhat)
    residuals = plots.residuals_figure(y, yhat)
    spread = plots.residual_distribution_figure(y, yhat)

    assert _names(versus)[0] == "perfect" and len(versus.data[1].x) == plots.MAX_SCATTER_POINTS
    assert "random sample" in versus.data[1].name
    assert len(residuals.data[0].y) == plots.MAX_SCATTER_POINTS
    assert len(spread.data[0].x) == plots.HISTOGRAM_BINS and sum(spread.data[0].y) == BIG


def test_cost_curve_marks_the_chosen_threshold_and_is_thinned() -> None:
    grid = np.linspace(0, 1, 5_000)
    cost = 0.9 * (1 - grid) ** 20 + 0.02 + 0.01 * grid  # flagging everything costs far more than the rest
    curve = pd.DataFrame({"threshold": grid, "f1": 1 - (grid - 0.3) ** 2, "expected_cost": cost,
                          "precision": grid, "recall": 1 - grid})
    choice = ThresholdChoice(0.2, "cost", 1.0, 20.0, 0.0, curve)

    figure = plots.cost_curve_figure(choice)

    assert "expected cost" in figure.data[0].name and "F1" in _names(figure)
    assert all(len(t.x) <= plots.MAX_CURVE_POINTS for t in figure.data)
    assert any(shape.x0 == shape.x1 == 0.2 for shape in figure.layout.shapes)  # the threshold in use
    never = curve["expected_cost"].iloc[-1]  # recall 0 at the top threshold: the cost of never flagging
    assert any(shape.y0 == shape.y1 == never for shape in figure.layout.shapes)
    assert figure.layout.yaxis.range[1] == pytest.approx(2.5 * never * 1.05)  # flag-everything costs don't flatten it


def _leaderboard() -> pd.DataFrame:
    return pd.DataFrame({"rank": [1, 2, 3, 4, 5], "model": ["ensemble", "lgbm", "cat", "knn", "<i>odd</i>"],
                         "learner": ["ensemble", "lightgbm", "catboost", "knn", "linear"],
                         "metric": "roc_auc", "score": [0.95, 0.94, 0.935, 0.80, np.nan],
                         "ci_low": [0.93, 0.92, 0.91, 0.75, np.nan], "ci_high": [0.97, 0.96, 0.95, 0.85, np.nan]})


def test_comparison_chart_groups_candidates_by_the_paired_test() -> None:
    comparisons = [Comparison("cat", "lgbm", 0.005, 0.41, "t", "LightGBM and CatBoost are not distinguishable"),
                   Comparison("knn", "lgbm", 0.14, 0.001, "t", "LightGBM is better than KNN")]

    figure = plots.comparison_figure(_leaderboard(), comparisons)

    by_name = {t.name: t for t in figure.data}
    assert list(by_name["the best"].y) == ["lgbm"]
    assert list(next(t for n, t in by_name.items() if n.startswith("not distinguishable")).y) == ["cat"]
    assert list(next(t for n, t in by_name.items() if n.startswith("worse")).y) == ["knn"]
    assert list(next(t for n, t in by_name.items() if n.startswith("not tested")).y) == ["ensemble"]
    tie = by_name["joined: no significant difference"]
    assert list(tie.y) == ["lgbm", "cat"]
    assert "<i>odd</i>" not in figure.to_json()  # its score failed: not drawn


def test_importance_and_slices_charts() -> None:
    importance = pd.DataFrame({"feature": [f"f{i}" for i in range(40)], "importance": np.linspace(0.4, 0, 40),
                               "ci_low": np.linspace(0.3, -0.01, 40), "ci_high": np.linspace(0.5, 0.01, 40)})
    slices = pd.DataFrame({"column": ["Type"] * 3, "level": ["L", "M", "H"], "rows": [600, 300, 100],
                           "score": [0.9, 0.95, 0.7], "ci_low": [0.88, 0.92, 0.6], "ci_high": [0.92, 0.97, 0.8],
                           "overall": 0.91, "worse": [False, False, True]})

    bars = plots.importance_figure(importance).data[0]
    dots = plots.slices_figure(slices).data[0]

    assert len(bars.y) == plots.MAX_FEATURES and bars.y[-1] == "f0"  # most important on top
    assert list(dots.y) == ["Type = H", "Type = M", "Type = L"]
    assert dots.marker.color[0] == "#c0392b"


def test_binary_figures_of_many_rows_stay_small() -> None:
    y, p = _binary(BIG)
    figures = [plots.roc_figure(y, p), plots.pr_figure(y, p), plots.calibration_figure(y, p),
               plots.score_distribution_figure(y, p, ["0", "1"], threshold=0.5),
               plots.confusion_figure(y, (p >= 0.5).astype(int), ["0", "1"], normalize=False)]

    assert sum(len(f.to_json()) for f in figures) < 100_000


def test_thin_and_sample_keep_order_and_cap() -> None:
    assert plots.thin(10, 20).tolist() == list(range(10))
    thinned = plots.thin(10_000, 100)
    assert thinned[0] == 0 and thinned[-1] == 9_999 and len(thinned) <= 100
    sampled = plots.sample(10_000, 100)
    assert len(sampled) == 100 and np.all(np.diff(sampled) > 0)


def _contributions(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"small": rng.normal(0, 0.1, n), "<b>big</b>": rng.normal(0, 2.0, n),
                          "middle": rng.normal(0, 0.5, n), "base_value": -1.0})
    frame.attrs.update({"member": "lgbm", "output": "log-odds of class 1"})
    return frame


def test_shap_frame_ranks_features_by_mean_absolute_contribution() -> None:
    contributions = _contributions(1000)

    summary = plots.shap_frame(contributions)

    assert list(summary["feature"]) == ["<b>big</b>", "middle", "small"]  # base_value is not a feature
    assert summary["mean_abs_contribution"].iloc[0] == pytest.approx(contributions["<b>big</b>"].abs().mean())


def test_shap_bar_puts_the_most_influential_feature_on_top_and_escapes_names() -> None:
    bars = plots.shap_bar_figure(_contributions(500)).data[0]

    assert list(bars.y) == ["small", "middle", "&lt;b&gt;big&lt;/b&gt;"]
    assert np.all(np.diff(np.asarray(bars.x)) > 0)


def test_shap_strip_samples_each_feature_and_stays_small() -> None:
    contributions = _contributions(BIG)

    figure = plots.shap_strip_figure(contributions)

    points = sum(len(trace.x) for trace in figure.data)
    assert points == 3 * plots.MAX_STRIP_POINTS  # every feature, 300 rows each
    raises, lowers = (np.asarray(trace.x) for trace in figure.data)
    assert np.all(raises > 0) and np.all(lowers <= 0)  # red raises the output, blue lowers it
    assert list(figure.layout.yaxis.ticktext)[-1] == "&lt;b&gt;big&lt;/b&gt;"  # most influential on top
    assert len(figure.to_json()) < 40_000


def test_shap_charts_of_no_rows_say_so() -> None:
    empty = _contributions(0)

    assert "No contribution" in plots.shap_strip_figure(empty).layout.annotations[0].text
