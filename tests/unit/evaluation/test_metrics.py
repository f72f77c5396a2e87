"""Metrics agree with scikit-learn, carry their direction, and are checked against the task."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from kiln.errors import InvalidOptionError
from kiln.evaluation.metrics import METRICS, get_metric

RNG = np.random.default_rng(0)
N = 200
Y_BINARY = RNG.integers(0, 2, N)
P_BINARY = np.column_stack([1 - (p := np.clip(0.3 * Y_BINARY + 0.7 * RNG.random(N), 0.01, 0.99)), p])
Y_MULTI = RNG.integers(0, 3, N)
P_MULTI = RNG.dirichlet([1, 1, 1], N) + 0.8 * np.eye(3)[Y_MULTI]
P_MULTI = P_MULTI / P_MULTI.sum(axis=1, keepdims=True)
Y_REG = RNG.normal(size=N)
P_REG = Y_REG + RNG.normal(scale=0.5, size=N)


@pytest.mark.parametrize(("name", "task", "y", "p", "reference"), [
    ("roc_auc", "binary", Y_BINARY, P_BINARY, lambda y, p: sk.roc_auc_score(y, p[:, 1])),
    ("roc_auc", "multiclass", Y_MULTI, P_MULTI, lambda y, p: sk.roc_auc_score(y, p, multi_class="ovr")),
    ("log_loss", "binary", Y_BINARY, P_BINARY, sk.log_loss),
    ("log_loss", "multiclass", Y_MULTI, P_MULTI, sk.log_loss),
    ("accuracy", "multiclass", Y_MULTI, P_MULTI, lambda y, p: sk.accuracy_score(y, p.argmax(axis=1))),
    ("balanced_accuracy", "binary", Y_BINARY, P_BINARY,
     lambda y, p: sk.balanced_accuracy_score(y, p.argmax(axis=1))),
    ("f1", "binary", Y_BINARY, P_BINARY, lambda y, p: sk.f1_score(y, p.argmax(axis=1))),
    ("f1", "multiclass", Y_MULTI, P_MULTI, lambda y, p: sk.f1_score(y, p.argmax(axis=1), average="macro")),
    ("rmse", "regression", Y_REG, P_REG, sk.root_mean_squared_error),
    ("mae", "regression", Y_REG, P_REG, sk.mean_absolute_error),
    ("r2", "regression", Y_REG, P_REG, sk.r2_score),
])
def test_metric_matches_scikit_learn(name, task, y, p, reference) -> None:
    assert get_metric(name, task).score(y, p, task) == pytest.approx(reference(y, p), rel=1e-10)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_loss_is_the_score_negated_when_greater_is_better(name: str) -> None:
    metric = METRICS[name]
    task = "regression" if "regression" in metric.tasks else "binary"
    y, p = (Y_REG, P_REG) if task == "regression" else (Y_BINARY, P_BINARY)

    score, loss = metric.score(y, p, task), metric.loss(y, p, task)

    assert loss == (-score if metric.greater_is_better else score)


@pytest.mark.parametrize(("name", "greater_is_better", "optimum"), [
    ("roc_auc", True, 1.0), ("log_loss", False, 0.0), ("accuracy", True, 1.0), ("f1", True, 1.0),
    ("rmse", False, 0.0), ("mae", False, 0.0), ("r2", True, 1.0),
])
def test_metric_declares_direction_and_optimum(name: str, greater_is_better: bool, optimum: float) -> None:
    metric = METRICS[name]

    assert (metric.greater_is_better, metric.optimum) == (greater_is_better, optimum)


def test_perfect_prediction_reaches_the_optimum() -> None:
    perfect = np.eye(2)[Y_BINARY]

    for name in ("roc_auc", "accuracy", "balanced_accuracy", "f1"):
        assert METRICS[name].score(Y_BINARY, perfect, "binary") == METRICS[name].optimum
    assert METRICS["log_loss"].score(Y_BINARY, perfect, "binary") == pytest.approx(0.0, abs=1e-12)
    for name in ("rmse", "mae", "r2"):
        assert METRICS[name].score(Y_REG, Y_REG, "regression") == METRICS[name].optimum


def test_better_follows_the_direction() -> None:
    assert METRICS["roc_auc"].better(0.9, 0.8)
    assert METRICS["rmse"].better(0.8, 0.9)
    assert not METRICS["log_loss"].better(0.5, 0.4)


def test_log_loss_counts_a_class_absent_from_the_labels() -> None:
    y = np.array([0, 2, 0, 2])
    p = np.array([[0.7, 0.1, 0.2], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])

    value = METRICS["log_loss"].score(y, p, "multiclass")

    assert value == pytest.approx(sk.log_loss(y, p, labels=[0, 1, 2]))


def test_multiclass_auc_ignores_a_class_absent_from_the_fold() -> None:
    rng = np.random.default_rng(1)
    y = rng.choice([0, 1, 3], N)  # class 2 of 4 is absent
    p = rng.dirichlet([1, 1, 1, 1], N) + np.eye(4)[y]
    p = p / p.sum(axis=1, keepdims=True)

    value = METRICS["roc_auc"].score(y, p, "multiclass")

    present = p[:, [0, 1, 3]] / p[:, [0, 1, 3]].sum(axis=1, keepdims=True)
    assert value == pytest.approx(sk.roc_auc_score(y, present, multi_class="ovr", labels=[0, 1, 3]))


def test_multiclass_auc_with_two_classes_present_scores_them_as_binary() -> None:
    rows = Y_MULTI != 1
    y, p = Y_MULTI[rows], P_MULTI[rows]

    value = METRICS["roc_auc"].score(y, p, "multiclass")

    renormalised = p[:, [0, 2]] / p[:, [0, 2]].sum(axis=1, keepdims=True)
    assert value == pytest.approx(sk.roc_auc_score(y, renormalised[:, 1]))


def test_r2_of_a_constant_target_is_zero_not_nan() -> None:
    y = np.full(10, 3.0)

    assert METRICS["r2"].score(y, y + 1.0, "regression") == 0.0


@pytest.mark.parametrize(("task", "name"), [("binary", "roc_auc"), ("multiclass", "log_loss"),
                                            ("regression", "rmse")])
def test_default_metric_per_task(task: str, name: str) -> None:
    assert get_metric(None, task).name == name


def test_metric_names_are_case_insensitive() -> None:
    assert get_metric("ROC_AUC", "binary").name == "roc_auc"


def test_unknown_metric_is_refused_listing_the_choices() -> None:
    with pytest.raises(InvalidOptionError, match=r"Unknown metric 'auc_pr'; choose one of \[.*'roc_auc'"):
        get_metric("auc_pr", "binary")


@pytest.mark.parametrize(("name", "task", "usable"), [
    ("rmse", "binary", "'accuracy'"),
    ("roc_auc", "regression", "'mae'"),
])
def test_metric_for_another_task_is_refused_listing_usable_ones(name: str, task: str, usable: str) -> None:
    message = rf"Metric '{name}' does not apply to {task} tasks; use one of .*{usable}"
    with pytest.raises(InvalidOptionError, match=message):
        get_metric(name, task)


@pytest.mark.parametrize(("name", "value", "clipped"), [("roc_auc", 1.03, 1.0), ("rmse", -0.2, 0.0),
                                                        ("r2", -5.0, -5.0), ("log_loss", 7.0, 7.0)])
def test_clip_keeps_values_inside_the_metric_range(name: str, value: float, clipped: float) -> None:
    assert METRICS[name].clip(value) == clipped
