"""score_table: every metric of the task, equal to scikit-learn's, with a bootstrap interval and a baseline."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from kiln.evaluation import scores
from kiln.evaluation.metrics import METRICS
from kiln.evaluation.scores import score_table


def _binary(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype("int64")
    positive = np.clip(0.3 + 0.35 * (y - 0.3) + rng.normal(0, 0.2, n), 0.01, 0.99).round(2)  # with ties
    return y, np.column_stack([1 - positive, positive])


def _multiclass(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    proba = rng.dirichlet([1, 1, 1], n)
    proba[np.arange(n), y] += rng.random(n)
    return y, proba / proba.sum(axis=1, keepdims=True)


def _table(*args, **kwargs) -> dict[str, scores.Score]:
    return {s.metric: s for s in score_table(*args, **kwargs)}


def test_binary_values_match_scikit_learn_at_the_threshold() -> None:
    y, proba = _binary(400)
    labels = proba[:, 1] >= 0.35

    table = _table(y, proba, "binary", threshold=0.35, n_boot=50)

    expected = {
        "roc_auc": sk.roc_auc_score(y, proba[:, 1]),
        "pr_auc": sk.average_precision_score(y, proba[:, 1]),
        "log_loss": sk.log_loss(y, proba),
        "brier": sk.brier_score_loss(y, proba[:, 1]),
        "accuracy": sk.accuracy_score(y, labels),
        "balanced_accuracy": sk.balanced_accuracy_score(y, labels),
        "f1": sk.f1_score(y, labels),
        "precision": sk.precision_score(y, labels),
        "recall": sk.recall_score(y, labels),
    }
    assert list(table) == list(expected)
    for name, value in expected.items():
        assert table[name].value == pytest.approx(value, abs=1e-12), name
    assert not table["log_loss"].greater_is_better and table["roc_auc"].greater_is_better


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_weighted_forms_equal_the_metric_on_repeated_rows(task: str) -> None:
    """A bootstrap resample is a row of counts: each statistic on counts must equal the
    plain metric on the rows repeated that many times."""
    rng = np.random.default_rng(3)
    if task == "binary":
        y, pred = _binary(200)
    elif task == "multiclass":
        y, pred = _multiclass(200)
    else:
        y = rng.normal(10, 3, 200)
        pred = y + rng.normal(0, 1, 200)
    counts = rng.integers(0, 4, len(y))
    repeated_y, repeated_pred = np.repeat(y, counts), np.repeat(pred, counts, axis=0)

    for stat in scores._stats(y, pred, task, None):
        weighted = stat.function(counts[None, :].astype(float))[0]
        repeated = {s.name: s for s in scores._stats(repeated_y, repeated_pred, task, None)}[stat.name]
        plain = repeated.function(np.ones((1, len(repeated_y))))[0]
        assert weighted == pytest.approx(plain, rel=1e-10), stat.name
        if stat.shared:
            assert plain == pytest.approx(METRICS[stat.shared].score(repeated_y, repeated_pred, task), rel=1e-10)


def test_weighted_ranking_metrics_match_scikit_learn_sample_weights() -> None:
    y, proba = _binary(300, seed=5)
    weights = np.random.default_rng(5).integers(0, 3, 300).astype(float)
    roc_auc, pr_auc = scores._ranking_stats(proba[:, 1], y == 1)

    assert roc_auc(weights[None])[0] == pytest.approx(sk.roc_auc_score(y, proba[:, 1], sample_weight=weights))
    assert pr_auc(weights[None])[0] == pytest.approx(
        sk.average_precision_score(y, proba[:, 1], sample_weight=weights))


def test_multiclass_has_macro_f1_and_recall_per_class() -> None:
    y, proba = _multiclass(500)
    labels = proba.argmax(axis=1)

    table = _table(y, proba, "multiclass", n_boot=50)

    assert list(table) == ["log_loss", "accuracy", "macro_f1", "recall[0]", "recall[1]", "recall[2]"]
    assert table["macro_f1"].value == pytest.approx(sk.f1_score(y, labels, average="macro"))
    recalls = sk.recall_score(y, labels, average=None)
    for k in range(3):
        assert table[f"recall[{k}]"].value == pytest.approx(recalls[k])
    assert table["accuracy"].baseline == pytest.approx(np.mean(y == 0))  # the majority class
    assert table["log_loss"].baseline == pytest.approx(sk.log_loss(y, np.tile(np.bincount(y) / len(y), (500, 1))))


def test_regression_values_and_mean_baseline() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(50, 5, 400)
    pred = y + rng.normal(0, 2, 400)

    table = _table(y, pred, "regression", n_boot=50)

    assert list(table) == ["rmse", "mae", "r2", "mape"]
    assert table["rmse"].value == pytest.approx(np.sqrt(sk.mean_squared_error(y, pred)))
    assert table["mae"].value == pytest.approx(sk.mean_absolute_error(y, pred))
    assert table["r2"].value == pytest.approx(sk.r2_score(y, pred))
    assert table["mape"].value == pytest.approx(sk.mean_absolute_percentage_error(y, pred))
    assert table["rmse"].baseline == pytest.approx(y.std())
    assert table["r2"].baseline == pytest.approx(0.0)


@pytest.mark.parametrize("y", [np.linspace(-5, 5, 200), np.r_[1e-4, np.linspace(1, 10, 199)]])
def test_mape_is_left_out_when_values_reach_zero(y: np.ndarray) -> None:
    names = [s.metric for s in score_table(y, y + 0.1, "regression", n_boot=10)]

    assert "mape" not in names


def test_binary_baselines_are_chance_and_the_majority_class() -> None:
    y, proba = _binary(400)
    prior = y.mean()

    table = _table(y, proba, "binary", n_boot=10)

    assert table["roc_auc"].baseline == pytest.approx(0.5)
    assert table["pr_auc"].baseline == pytest.approx(prior)
    assert table["brier"].baseline == pytest.approx(prior * (1 - prior))
    assert table["accuracy"].baseline == pytest.approx(1 - prior)
    assert table["recall"].baseline == 0.0 and table["balanced_accuracy"].baseline == pytest.approx(0.5)


def test_interval_contains_the_value_and_narrows_with_more_rows() -> None:
    small = _table(*_binary(300), "binary", n_boot=400)
    large = _table(*_binary(3000), "binary", n_boot=400)

    for name, score in small.items():
        assert score.ci_low <= score.value <= score.ci_high, name
    for name in ("roc_auc", "log_loss", "accuracy"):
        assert large[name].ci_high - large[name].ci_low < 0.6 * (small[name].ci_high - small[name].ci_low)


def test_same_seed_gives_the_same_interval() -> None:
    y, proba = _binary(200)

    first = score_table(y, proba, "binary", n_boot=100, seed=7)

    assert first == score_table(y, proba, "binary", n_boot=100, seed=7)
    assert first != score_table(y, proba, "binary", n_boot=100, seed=8)


def test_stratified_resamples_keep_the_class_counts() -> None:
    y = np.r_[np.zeros(90, int), np.ones(10, int)]
    strata = [np.flatnonzero(y == 0), np.flatnonzero(y == 1)]

    for weights in scores.resample_weights(100, 50, 0, strata):
        assert np.all(weights[:, y == 1].sum(axis=1) == 10)
        assert np.all(weights.sum(axis=1) == 100)


def test_a_single_class_leaves_ranking_metrics_undefined() -> None:
    y = np.zeros(50, dtype="int64")
    proba = np.column_stack([np.full(50, 0.8), np.full(50, 0.2)])

    table = _table(y, proba, "binary", n_boot=20)

    assert np.isnan(table["roc_auc"].value) and np.isnan(table["roc_auc"].ci_low)
    assert table["accuracy"].value == 1.0


def test_class_mix_metrics_get_the_spread_of_a_plain_bootstrap() -> None:
    # A weak model on rare positives (issue 13, item 7): almost all of its log loss's spread comes
    # from how many positives a sample holds, which a within-class bootstrap fixes. Its interval
    # must be as wide as resampling all rows gives (a numpy loop here, independent of kiln's code).
    rng = np.random.default_rng(3)
    n = 2250
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(3.5 - 0.6 * x))).astype("int64")
    positive = 1 / (1 + np.exp(3.4 - 0.55 * x))
    per_row = -np.log(np.where(y == 1, positive, 1 - positive))
    plain = [per_row[rng.integers(0, n, n)].mean() for _ in range(1000)]
    plain_width = float(np.subtract(*np.percentile(plain, [97.5, 2.5])))

    table = _table(y, np.column_stack([1 - positive, positive]), "binary", n_boot=1000)

    width = table["log_loss"].ci_high - table["log_loss"].ci_low
    assert 0.85 * plain_width < width < 1.15 * plain_width
    # recall is an average over positives alone: still resampled within classes, so a sample always has them
    assert np.isfinite(table["recall"].ci_low) and np.isfinite(table["roc_auc"].ci_low)
