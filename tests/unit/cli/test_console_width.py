"""The leaderboard and the evaluation fit 80 columns without cutting a number or a phrase,
and an ensemble of a single member is shown once, with the reason."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from tiny_models import train_tiny
from typer.testing import CliRunner

from kiln.cli import app
from kiln.cli.scoreboard import print_evaluation, print_leaderboard
from kiln.evaluation.result import Evaluation
from kiln.evaluation.scores import Score
from kiln.evaluation.threshold import ThresholdChoice

NAMES = ["ensemble", "hist_gradient_boosting_12", "catboost_1", "random_forest_3", "extra_trees_14", "knn_6"]


def _board(ensemble_members: dict[str, float]) -> pd.DataFrame:
    """A regression leaderboard as wide as they come: long names, negative scores, truncated trials."""
    rows = []
    for i, name in enumerate(NAMES):
        rows.append({"rank": i + 1, "model": name, "learner": name.rsplit("_", 1)[0],
                     "score": -40.1457 - i, "ci_low": -41.2207 - i, "ci_high": -39.0123 - i, "fit_s": 123.4 * (i + 1),
                     "predict_s_per_1k": 0.0123, "status": "truncated" if i == 3 else "ok", "used": i == 0,
                     "config": json.dumps(ensemble_members) if name == "ensemble" else "{}"})
    return pd.DataFrame(rows)


def _printed(width: int, draw) -> tuple[str, list[str]]:
    console = Console(width=width, record=True, color_system=None)
    draw(console)
    text = console.export_text()
    return text, text.splitlines()


def test_the_leaderboard_fits_80_columns_with_every_interval_and_name_whole() -> None:
    board = _board({"hist_gradient_boosting_12": 0.6, "catboost_1": 0.4})
    text, lines = _printed(80, lambda c: print_leaderboard(board, title="Leaderboard of model/ (rmse)", console=c))
    assert max(len(line) for line in lines) <= 80
    for _, row in board.iterrows():
        assert f"{row['ci_low']:.4f}–{row['ci_high']:.4f}" in text  # not "-41.220…"
        assert row["model"] in text
    assert "truncated" in text
    assert "fit s" not in text and "Fit and predict times are left out at 80 columns" in text


def test_a_wide_terminal_keeps_the_times() -> None:
    board = _board({"hist_gradient_boosting_12": 0.6, "catboost_1": 0.4})
    text, _ = _printed(160, lambda c: print_leaderboard(board, title="Leaderboard", console=c))
    assert "fit s" in text and "ms/1k rows" in text and "left out" not in text
    assert re.search(r"│ 1 │ ensemble \*", text)  # a real ensemble keeps its row


def test_an_ensemble_of_one_member_is_listed_once_and_says_why() -> None:
    board = _board({"hist_gradient_boosting_12": 1.0}).assign(used=lambda f: f["model"] == "hist_gradient_boosting_12")
    text, lines = _printed(100, lambda c: print_leaderboard(board, title="Leaderboard", console=c))
    rows = [line for line in lines if line.startswith("│")]
    assert len(rows) == len(NAMES) - 1
    assert not any(" ensemble " in line for line in rows)
    assert [line.split("│")[1].strip() for line in rows] == ["1", "2", "3", "4", "5"]  # ranks without a gap
    assert re.search(r"│ 1 │ hist_gradient_boosting_12 \*", text)
    assert "Ensemble selection kept hist_gradient_boosting_12 alone" in " ".join(text.split())


def _evaluation() -> Evaluation:
    scores = [Score("roc_auc", 0.9897, 0.9760, 1.0, 0.5, True),
              Score("balanced_accuracy", 0.9687, 0.9396, 0.9946, 0.5, True),
              Score("recall[1]", 0.9891, 0.9674, 1.0, 1.0, True),
              Score("log_loss", 0.1958, 0.0199, 0.4335, 0.6672, False)]
    threshold = ThresholdChoice(0.5, "f1", 1.0, 1.0, 0.9, pd.DataFrame())
    return Evaluation(task="binary", metric="roc_auc", classes=["benign tumour", "malignant tumour"],
                      y_true=np.zeros(2), prediction=np.zeros((2, 2)), scores=scores, threshold=threshold,
                      slices=pd.DataFrame(), importance=pd.DataFrame(), comparisons=[])


def test_the_evaluation_fits_80_columns_in_whole_phrases_and_sentences() -> None:
    text, lines = _printed(80, lambda c: print_evaluation(_evaluation(), title="target on new.csv", console=c))
    assert max(len(line) for line in lines) <= 80
    assert "not clearly better" in text  # the verdict whole, on one line
    for low, high in (("0.9760", "1.0000"), ("0.9674", "1.0000"), ("0.0199", "0.4335")):
        assert f"{low}–{high}" in text
    flowing = " ".join(text.split())
    assert ("On recall of class malignant tumour the 95% interval reaches the baseline, so the model is not "
            "clearly better than the baseline there.") in flowing
    assert "Decision threshold 0.500 (objective F1)." in flowing and "costs" not in flowing  # F1 uses no costs


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real trial: greedy ensemble selection can only keep that one member."""
    return train_tiny(tmp_path_factory.mktemp("tiny") / "model")


def test_kiln_leaderboard_of_a_one_member_ensemble_shows_the_member_once(tiny_bundle: Path) -> None:
    result = CliRunner().invoke(app, ["leaderboard", str(tiny_bundle)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    assert len(rows) == 1 and "lightgbm_0 *" in rows[0]
    assert "Ensemble selection kept lightgbm_0 alone" in " ".join(result.output.split())
    csv = CliRunner().invoke(app, ["leaderboard", str(tiny_bundle), "--csv"])
    assert "ensemble" in csv.output  # the data keeps the row; only the table folds it
