"""Permutation importance finds the signal; SHAP contributions add up to the explained output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import kiln
from kiln.errors import InvalidDataError, InvalidOptionError
from kiln.evaluation.explain import (
    BASE_VALUE,
    IMPORTANCE_COLUMNS,
    _fold_contributions,
    permutation_importance,
    shap_contributions,
)
from kiln.model import Model


def test_permutation_importance_ranks_the_signal_first(binary_model: kiln.Model, holdout: pd.DataFrame) -> None:
    table = permutation_importance(binary_model, holdout, n_repeats=3)

    assert list(table.columns) == IMPORTANCE_COLUMNS
    assert table["feature"].iloc[0] == "torque"
    assert set(table["feature"]) == set(binary_model.schema.names)
    torque = table.iloc[0]
    assert torque["ci_low"] > 0 and torque["ci_low"] <= torque["importance"] <= torque["ci_high"]
    assert table["importance"].is_monotonic_decreasing


def test_permutation_importance_needs_the_target(binary_model: kiln.Model, holdout: pd.DataFrame) -> None:
    with pytest.raises(InvalidDataError, match="'failure'"):
        permutation_importance(binary_model, holdout.drop(columns="failure"))


def test_shap_adds_up_to_the_lightgbm_log_odds(binary_model: kiln.Model, holdout: pd.DataFrame) -> None:
    rows = holdout.head(40)
    member = binary_model.members[0]
    features = binary_model.schema.coerce(rows)
    log_odds = np.mean([fold.learner.booster_.predict(fold.prep.transform(features), raw_score=True,
                                                      num_iteration=fold.learner.booster_.best_iteration or None)
                        for fold in member.folds], axis=0)

    contributions = kiln.explain(binary_model, rows)

    assert list(contributions.columns) == [*binary_model.schema.names, BASE_VALUE]
    assert contributions.index.equals(rows.index)
    total = contributions.drop(columns=BASE_VALUE).sum(axis=1) + contributions[BASE_VALUE]
    np.testing.assert_allclose(total, log_odds, atol=1e-6)
    assert contributions.drop(columns=BASE_VALUE).abs().mean().idxmax() == "torque"
    assert contributions.attrs["member"] == member.name and "log-odds" in contributions.attrs["output"]


def _raw(model: Model, rows: pd.DataFrame, explained: np.ndarray | None) -> np.ndarray:
    """The explained output of the member, computed directly from each fold's own library."""
    features = model.schema.coerce(rows)
    outputs = []
    for fold in model.members[0].folds:
        learner, encoded = fold.learner, fold.prep.transform(features)
        if learner.key == "xgboost":
            raw = learner.booster_.predict(learner._matrix(encoded), output_margin=True,
                                           iteration_range=learner._best_range())
        elif learner.key == "catboost":
            widened = learner.onehot_.transform(encoded)  # small categorical columns reach CatBoost one-hot
            raw = learner.model_.predict(learner._pool(widened), prediction_type="RawFormulaVal")
        elif model.task == "regression":
            onehot = getattr(learner, "onehot_", None)  # HistGradientBoosting's small categorical columns
            raw = learner.estimator_.predict(encoded if onehot is None else onehot.transform(encoded))
        else:
            raw = learner.estimator_.predict_proba(encoded)
        if raw.ndim == 2:
            raw = raw[np.arange(len(raw)), np.searchsorted(learner.classes_seen_, explained)]
        outputs.append(raw)
    return np.mean(outputs, axis=0)


@pytest.mark.parametrize(("learner", "target", "task"), [
    ("xgboost", "type", "multiclass"),
    ("catboost", "failure", "binary"),
    ("random_forest", "torque", "regression"),
    ("extra_trees", "failure", "binary"),
    ("hist_gradient_boosting", "torque", "regression"),  # its small categorical columns one-hot
])
def test_shap_adds_up_for_every_tree_family(learner: str, target: str, task: str, assemble, machine_table) -> None:
    model = assemble(machine_table(300, 2), target, task, learner)
    rows = machine_table(30, 3)
    explained = None
    if task != "regression":
        explained = model.predict_raw(rows).argmax(axis=1) if task == "multiclass" else np.ones(30, dtype=int)

    contributions = shap_contributions(model, rows)

    total = contributions.drop(columns=BASE_VALUE).sum(axis=1) + contributions[BASE_VALUE]
    np.testing.assert_allclose(total, _raw(model, rows, explained), atol=1e-5)
    if task == "multiclass":
        assert contributions.attrs["explained_class"] == list(model.predict(rows))


def test_hist_gradient_boosting_without_categories_is_explained(assemble, machine_table) -> None:
    categorical = ["type", "failure"]  # categorical columns would get native categorical splits
    model = assemble(machine_table(300, 4).drop(columns=categorical), "torque", "regression", "hist_gradient_boosting")
    rows = machine_table(20, 5).drop(columns=categorical)

    contributions = shap_contributions(model, rows)

    total = contributions.drop(columns=BASE_VALUE).sum(axis=1) + contributions[BASE_VALUE]
    np.testing.assert_allclose(total, model.predict_raw(rows), atol=1e-6)


def test_models_without_an_explainable_tree_are_refused(assemble, machine_table) -> None:
    table = machine_table(200, 6)

    with pytest.raises(InvalidOptionError, match="tree model"):
        shap_contributions(assemble(table, "failure", "binary", "linear"), table.head(5))
    wide = table.assign(shop=[f"shop{i % 11}" for i in range(len(table))])  # 11 levels: native category splits
    with pytest.raises(InvalidOptionError, match="categorical"):
        shap_contributions(assemble(wide, "failure", "binary", "hist_gradient_boosting"), wide.head(5))


def test_booster_contributions_equal_shap_tree_explainer(binary_model: kiln.Model, holdout: pd.DataFrame) -> None:
    """LightGBM, XGBoost and CatBoost compute Tree SHAP themselves; shap.TreeExplainer gives the same."""
    from kiln.evaluation.explain import _import_shap

    fold = binary_model.members[0].folds[0]
    encoded = fold.prep.transform(binary_model.schema.coerce(holdout.head(25)))
    explainer = _import_shap().TreeExplainer(fold.learner.booster_)

    values, expected = _fold_contributions(fold, encoded, np.ones(25, dtype=int))

    reference = explainer(encoded)
    np.testing.assert_allclose(values, reference.values, atol=1e-9)
    np.testing.assert_allclose(expected, reference.base_values, atol=1e-9)
