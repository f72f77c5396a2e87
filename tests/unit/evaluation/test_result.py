"""Evaluation: the scores, threshold, slices, importance and comparisons of a model, as tables."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import recall_score, roc_auc_score

import kiln
from kiln.errors import InvalidDataError
from kiln.evaluation.compare import Comparison
from kiln.evaluation.explain import IMPORTANCE_COLUMNS
from kiln.evaluation.result import COMPARISON_COLUMNS, SCORE_COLUMNS, Evaluation, evaluate_model, oof_evaluation
from kiln.evaluation.slices import SLICE_COLUMNS


@pytest.fixture(scope="module")
def evaluation(binary_model: kiln.Model, holdout: pd.DataFrame) -> Evaluation:
    return kiln.evaluate(binary_model, holdout)


def test_evaluation_scores_new_rows_with_every_binary_metric(evaluation: Evaluation, binary_model: kiln.Model,
                                                              holdout: pd.DataFrame) -> None:
    frame = evaluation.frame()

    assert list(frame.columns) == SCORE_COLUMNS
    assert list(frame["metric"])[:4] == ["roc_auc", "pr_auc", "log_loss", "brier"]
    y = (holdout["failure"] == "yes").to_numpy()
    roc_auc = frame.set_index("metric").loc["roc_auc"]
    assert roc_auc["value"] == pytest.approx(roc_auc_score(y, binary_model.predict_proba(holdout)["yes"]))
    assert roc_auc["ci_low"] < roc_auc["value"] < roc_auc["ci_high"] and roc_auc["baseline"] == 0.5
    assert evaluation.task == "binary" and evaluation.metric == "roc_auc" and evaluation.classes == ["no", "yes"]


def test_evaluation_carries_threshold_slices_and_importance(evaluation: Evaluation, binary_model: kiln.Model) -> None:
    stored = binary_model.manifest.get("decision", {}).get("threshold", 0.5)

    assert evaluation.threshold is not None and evaluation.threshold.threshold == stored
    assert not evaluation.threshold.curve.empty
    slices = evaluation.slices_frame()
    assert list(slices.columns) == SLICE_COLUMNS and set(slices["level"]) == {"L", "M", "H"}
    importance = evaluation.importance_frame()
    assert list(importance.columns) == IMPORTANCE_COLUMNS and importance["feature"].iloc[0] == "torque"
    assert list(evaluation.comparisons_frame().columns) == COMPARISON_COLUMNS


def test_an_explicit_threshold_sets_the_labels(binary_model: kiln.Model, holdout: pd.DataFrame) -> None:
    low = evaluate_model(binary_model, holdout, threshold=0.2)

    y = (holdout["failure"] == "yes").to_numpy()
    expected = recall_score(y, binary_model.predict_proba(holdout)["yes"] >= 0.2)
    assert low.threshold is not None and low.threshold.threshold == 0.2
    assert low.frame().set_index("metric").loc["recall", "value"] == pytest.approx(expected)


def test_the_stored_decision_threshold_is_used(binary_model: kiln.Model, holdout: pd.DataFrame) -> None:
    decision = {"threshold": 0.3, "objective": "cost", "cost_fp": 1.0, "cost_fn": 20.0, "value": 0.1}
    model = dataclasses.replace(binary_model, manifest={**binary_model.manifest, "decision": decision})

    evaluation = evaluate_model(model, holdout)

    assert evaluation.threshold is not None
    assert (evaluation.threshold.threshold, evaluation.threshold.objective) == (0.3, "cost")
    assert evaluation.threshold.cost_fn == 20.0


def test_rows_without_a_label_are_dropped_and_a_missing_target_is_refused(binary_model: kiln.Model,
                                                                          holdout: pd.DataFrame) -> None:
    unlabelled = holdout.head(200).copy()
    unlabelled.loc[:9, "failure"] = None

    assert len(evaluate_model(binary_model, unlabelled).y_true) == 190
    with pytest.raises(InvalidDataError, match="Target column 'failure' is not in the table"):
        evaluate_model(binary_model, holdout.drop(columns="failure"))


def test_out_of_fold_evaluation_scores_the_training_predictions(binary_model: kiln.Model) -> None:
    oof = binary_model.oof
    assert oof is not None

    evaluation = oof_evaluation(binary_model)

    assert len(evaluation.y_true) == len(oof)
    expected = roc_auc_score(oof["target"] == "yes", oof["final__proba_yes"])
    assert evaluation.frame().set_index("metric").loc["roc_auc", "value"] == pytest.approx(expected)
    assert evaluation.slices_frame().empty and list(evaluation.slices_frame().columns) == SLICE_COLUMNS
    assert evaluation.importance_frame().empty and list(evaluation.importance_frame().columns) == IMPORTANCE_COLUMNS
    assert evaluation.threshold is not None


def test_regression_evaluation_has_no_threshold(assemble, machine_table) -> None:
    model = assemble(machine_table(300, 7), "torque", "regression", "random_forest")

    evaluation = evaluate_model(model, machine_table(200, 8))

    assert evaluation.threshold is None and evaluation.comparisons == []
    assert list(evaluation.frame()["metric"])[:3] == ["rmse", "mae", "r2"]
    assert set(evaluation.slices_frame()["column"]) == {"type", "failure"}


def test_comparisons_frame_lists_each_comparison() -> None:
    comparison = Comparison("catboost_1", "lightgbm_0", 0.01, 0.41, "corrected resampled t-test",
                            "LightGBM and CatBoost are not distinguishable on this data (p = 0.41).")
    evaluation = Evaluation("binary", "roc_auc", [0, 1], np.zeros(2), np.zeros((2, 2)), [], None,
                            pd.DataFrame(columns=SLICE_COLUMNS), pd.DataFrame(columns=IMPORTANCE_COLUMNS),
                            [comparison])

    frame = evaluation.comparisons_frame()

    assert frame.to_dict("records") == [dataclasses.asdict(comparison)]


def test_integer_classes_read_as_floats_because_of_blanks_still_match(assemble, machine_table) -> None:
    table = machine_table(300, 9)
    table["failure"] = (table["failure"] == "yes").astype(int)
    model = assemble(table, "failure", "binary", "lightgbm")
    new = machine_table(100, 10)
    new["failure"] = np.where(np.arange(100) < 5, np.nan, (new["failure"] == "yes").astype(float))

    evaluation = evaluate_model(model, new)

    assert evaluation.classes == [0, 1] and len(evaluation.y_true) == 95
