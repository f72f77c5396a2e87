"""The training report: its two cross-validated figures are named, and it says what each member predicts with."""

from __future__ import annotations

from html import unescape

import pytest
from tiny_models import cancer_frame

import kiln
from kiln.evaluation.result import oof_evaluation
from kiln.report.training import render_training


@pytest.fixture(scope="module")
def tiny() -> kiln.Model:
    """One LightGBM trial on 200 rows of the breast-cancer table (about a second)."""
    return kiln.train(cancer_frame(0), target="target", time_limit=5, max_trials=1, n_jobs=1, seed=0, quiet=True)


def _section(page: str, title: str) -> str:
    return unescape(page.split(f"<h2>{title}</h2>")[1].split("<h2>")[0])


def test_summary_and_scores_say_which_score_is_the_mean_of_folds_and_which_is_pooled(tiny: kiln.Model) -> None:
    cv = tiny.manifest["cv"]
    pooled = next(s for s in oof_evaluation(tiny).scores if s.metric == tiny.metric)

    page = render_training(tiny)

    summary = _section(page, "Summary")
    assert f"Cross-validated ROC AUC (mean of the {cv['n_folds']} folds' scores)" in summary
    assert f"{cv['score']:.4f}" in summary and "95% interval (across folds, Nadeau–Bengio)" in summary
    scores = _section(page, "Scores")
    assert f"ROC AUC {pooled.value:.4f} here is pooled: all 200 out-of-fold predictions scored at once" in scores
    assert f"The Summary's and the leaderboard's {cv['score']:.4f} is the mean of the" in scores


def test_summary_names_what_each_member_predicts_with(tiny: kiln.Model) -> None:
    said = {"all_rows": "refitted on all rows", "cv_folds": "its cross-validation fold models, averaged"}

    summary = _section(render_training(tiny), "Summary")

    assert tiny.manifest["final_models"]
    for name, how in tiny.manifest["final_models"].items():
        assert f"{name}: {said[how]}" in summary


def test_a_one_member_ensemble_is_listed_once_with_why(tiny: kiln.Model) -> None:
    board = tiny.leaderboard()
    assert (board["learner"] == "ensemble").sum() == 1  # the stored leaderboard keeps the predictor's row

    section = _section(render_training(tiny), "Leaderboard")

    assert "<td>ensemble</td>" not in section.replace(" ", "")
    assert "Ensemble selection kept lightgbm_0 alone: that ensemble is lightgbm_0 itself" in section
