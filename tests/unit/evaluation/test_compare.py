"""Paired comparison of leaderboard candidates: the corrected t-test and its plain-language verdict."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from kiln.evaluation.compare import compare_to_best, corrected_ttest, format_p, why_not_compared

A = [0.812, 0.845, 0.797, 0.861, 0.830]
B = [0.809, 0.838, 0.801, 0.850, 0.822]


def _row(model: str, learner: str, folds: list[float], status: str = "ok") -> dict:
    return {"model": model, "learner": learner, "score": float(np.mean(folds)), "ci_low": 0.0, "ci_high": 1.0,
            "fold_scores": json.dumps(folds), "status": status}


def test_corrected_ttest_matches_a_hand_computation() -> None:
    d = np.subtract(A, B)
    k = len(d)
    t_hand = d.mean() / math.sqrt(d.var(ddof=1) * (1 / k + 1 / (k - 1)))
    p_hand = 2 * stats.t.sf(abs(t_hand), df=k - 1)

    t, p = corrected_ttest(A, B, k)

    assert t == pytest.approx(t_hand) and p == pytest.approx(p_hand)


def test_correction_makes_the_test_more_cautious_than_a_plain_paired_t_test() -> None:
    _, p = corrected_ttest(A, B, 5)

    assert p > stats.ttest_rel(A, B).pvalue


def test_identical_candidates_are_not_distinguishable() -> None:
    board = pd.DataFrame([_row("lightgbm_0", "lightgbm", A), _row("catboost_1", "catboost", A)])

    (comparison,) = compare_to_best(board, greater_is_better=True)

    assert comparison.p_value == 1.0 and comparison.mean_difference == 0.0
    assert comparison.verdict == "LightGBM and CatBoost are not distinguishable on this data (p = 1.00)."


def test_a_clearly_better_candidate_is_significant() -> None:
    rng = np.random.default_rng(0)
    good = list(0.9 + rng.normal(0, 0.01, 10))
    poor = [g - 0.08 + e for g, e in zip(good, rng.normal(0, 0.005, 10), strict=True)]
    board = pd.DataFrame([_row("knn_3", "knn", poor), _row("lightgbm_0", "lightgbm", good)])

    (comparison,) = compare_to_best(board, greater_is_better=True)

    assert comparison.best == "lightgbm_0" and comparison.model == "knn_3"
    assert comparison.p_value < 0.001 and comparison.mean_difference == pytest.approx(0.08, abs=0.01)
    assert comparison.verdict.startswith("LightGBM is better than") and "(p < 0.001)" in comparison.verdict


def test_noise_alone_is_rarely_called_significant() -> None:
    rng = np.random.default_rng(1)
    significant = 0
    for _ in range(200):
        shared = rng.normal(0.8, 0.03, 5)  # fold difficulty, common to both candidates
        board = pd.DataFrame([_row("a", "lightgbm", list(shared + rng.normal(0, 0.01, 5))),
                              _row("b", "xgboost", list(shared + rng.normal(0, 0.01, 5)))])
        significant += compare_to_best(board, greater_is_better=True)[0].p_value < 0.05
    assert significant <= 20  # about 5% expected


def test_lower_is_better_puts_the_smallest_loss_first_and_reports_a_positive_gain() -> None:
    low = [0.30, 0.31, 0.29, 0.30, 0.32]
    high = [x + 0.05 for x in low]
    board = pd.DataFrame([_row("knn_1", "knn", high), _row("lightgbm_0", "lightgbm", low)])

    (comparison,) = compare_to_best(board, greater_is_better=False)

    assert comparison.best == "lightgbm_0" and comparison.mean_difference == pytest.approx(0.05)


def test_ensemble_and_failed_trials_are_left_out_and_top_limits_the_list() -> None:
    rows = [_row("ensemble", "ensemble", [0.99] * 5), _row("broken", "xgboost", [0.95] * 5, status="failed")]
    rows += [_row(f"lightgbm_{i}", "lightgbm", [0.9 - 0.01 * i + 0.001 * j for j in range(5)]) for i in range(8)]

    comparisons = compare_to_best(pd.DataFrame(rows), greater_is_better=True, top=4)

    assert [c.model for c in comparisons] == ["lightgbm_1", "lightgbm_2", "lightgbm_3"]
    assert {c.best for c in comparisons} == {"lightgbm_0"}
    assert "lightgbm_0" in comparisons[0].verdict  # one family: names tell the candidates apart


def test_few_folds_say_the_test_has_little_power() -> None:
    board = pd.DataFrame([_row("a", "lightgbm", A[:3]), _row("b", "catboost", B[:3])])

    (comparison,) = compare_to_best(board, greater_is_better=True)

    assert "3 folds" in comparison.test and "little power" in comparison.test


def test_fewer_than_two_candidates_give_no_comparison() -> None:
    assert compare_to_best(pd.DataFrame([_row("a", "lightgbm", A)]), greater_is_better=True) == []


@pytest.mark.parametrize(("p", "text"), [(0.41, "p = 0.41"), (0.0031, "p = 0.003"), (0.0002, "p < 0.001")])
def test_p_values_read_plainly(p: float, text: str) -> None:
    assert format_p(p) == text


def test_a_truncated_candidate_is_compared_like_any_kept_trial() -> None:
    # A trial the deadline stopped after it learned is ranked and may be an ensemble member
    # (issue 13, item 3: with most trials truncated the report said "a single candidate").
    board = pd.DataFrame([_row("lightgbm_0", "lightgbm", A), _row("catboost_1", "catboost", B, status="truncated"),
                          _row("xgboost_2", "xgboost", [0.7] * 5, status="unlearned")])

    (comparison,) = compare_to_best(board, greater_is_better=True)

    assert comparison.model == "catboost_1" and comparison.best == "lightgbm_0"


def test_why_not_compared_counts_what_the_leaderboard_holds() -> None:
    board = pd.DataFrame([_row("ensemble", "ensemble", A), _row("lightgbm_0", "lightgbm", A),
                          {**_row("xgboost_2", "xgboost", [0.0]), "fold_scores": "[]", "status": "skipped"},
                          _row("knn_3", "knn", [0.6] * 5, status="unlearned")])

    assert compare_to_best(board, greater_is_better=True) == []
    assert why_not_compared(board) == ("only 1 candidate learned; 2 other trial(s) were unlearned, skipped or "
                                       "failed, so have no model to compare")
