"""`kiln evaluate`'s paired tests are computed on the rows it is given, not taken from the training folds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from kiln.evaluation.paired import delong_test
from kiln.evaluation.result import evaluate_model
from kiln.model import Model


@pytest.fixture(scope="module")
def blend(machine_table, assemble) -> Model:
    """A served model that blends two members, ranked by a (training) leaderboard: linear first."""
    frame = machine_table(600, 0)
    linear = assemble(frame, "failure", "binary", "linear")
    knn = assemble(frame, "failure", "binary", "knn")
    members = [dataclasses.replace(linear.members[0], weight=0.6), dataclasses.replace(knn.members[0], weight=0.4)]
    board = pd.DataFrame({"rank": [1, 2, 3], "model": ["ensemble", "linear_0", "knn_0"],
                          "learner": ["ensemble", "linear", "knn"], "score": [0.9, 0.89, 0.8], "status": "ok",
                          "fold_scores": ["[0.91, 0.89]", "[0.9, 0.88]", "[0.81, 0.79]"]})
    return dataclasses.replace(linear, members=members, leaderboard_frame=board,
                               manifest={"decision": {"threshold": 0.35, "objective": "f1"}})


def test_the_served_model_is_tested_against_its_best_member_and_the_baseline_on_these_rows(blend, machine_table):
    rows = machine_table(500, 7)

    ev = evaluate_model(blend, rows)

    assert [t.other for t in ev.tests] == ["its best member linear_0 (linear)", "the trivial baseline"]
    y = (rows["failure"] == "yes").to_numpy().astype(int)
    served = blend.predict_raw(rows)[:, 1]
    member = blend.members[0].predict_raw(blend.schema.coerce(rows))[:, 1]
    member_test, baseline_test = ev.tests
    assert member_test.model_value == pytest.approx(roc_auc_score(y, served))
    assert member_test.other_value == pytest.approx(roc_auc_score(y, member))
    difference, low, high, p = delong_test(y, member, served)
    assert (member_test.difference, member_test.ci_low, member_test.ci_high, member_test.p_value) == pytest.approx(
        (difference, low, high, p))
    assert member_test.test == "delong" and member_test.rows == 500 == len(ev.y_true)
    assert baseline_test.other_value == 0.5 and baseline_test.p_value < 0.001
    assert "On these rows the served model is better than the trivial baseline" in baseline_test.verdict
    frame = ev.tests_frame()
    assert list(frame["other"]) == [t.other for t in ev.tests] and frame["p_value"].notna().all()


def test_new_rows_change_the_tests_but_not_the_training_comparisons(blend, machine_table):
    """The tests shown come from the data given: other rows, other numbers; the fold comparisons stay put."""
    first, second = evaluate_model(blend, machine_table(400, 8)), evaluate_model(blend, machine_table(400, 9))

    assert first.tests[0].difference != second.tests[0].difference
    assert first.comparisons == second.comparisons and first.comparisons  # from training, whatever the rows


def test_label_metrics_test_the_served_threshold(blend, machine_table):
    rows = machine_table(500, 10)
    f1_model = dataclasses.replace(blend, metric="f1")

    ev = evaluate_model(f1_model, rows)

    from sklearn.metrics import f1_score
    y = (rows["failure"] == "yes").to_numpy().astype(int)
    served = f1_model.predict_raw(rows)[:, 1] >= 0.35
    assert ev.tests[0].test == "bootstrap"
    assert ev.tests[0].model_value == pytest.approx(f1_score(y, served))


def test_a_single_member_model_is_tested_against_the_baseline_only(binary_model, holdout):
    ev = evaluate_model(binary_model, holdout)

    assert [t.other for t in ev.tests] == ["the trivial baseline"]
    assert np.isfinite(ev.tests[0].p_value)
