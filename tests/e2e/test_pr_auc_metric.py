"""`--metric pr_auc` (average precision), the metric DQ009 advises, end to end (issue 13, item 20)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score
from tiny_models import cancer_frame
from typer.testing import CliRunner

import kiln
from kiln.cli import app
from kiln.data.checks import CHECKS
from kiln.evaluation.metrics import get_metric
from kiln.monitor.performance import _expected_average_precision


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 rows, one trial (about a second alone), selected by average precision."""
    model = kiln.train(cancer_frame(0), target="target", metric="pr_auc", time_limit=5, max_trials=1, n_jobs=1,
                       quiet=True)
    return kiln.save(model, tmp_path_factory.mktemp("pr") / "bundle")


def test_the_metric_is_average_precision_greater_is_better() -> None:
    metric = get_metric("pr_auc", "binary")
    y = np.array([0, 0, 1, 1, 0, 1])
    p1 = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])

    assert metric.greater_is_better and metric.better(0.9, 0.8)
    assert metric.score(y, np.column_stack([1 - p1, p1]), "binary") == pytest.approx(average_precision_score(y, p1))
    three = np.eye(3)[[0, 1, 2, 2]]
    assert get_metric("pr_auc", "multiclass").score(np.array([0, 1, 2, 2]), three, "multiclass") == 1.0
    with pytest.raises(kiln.KilnError, match="does not apply to regression"):
        get_metric("pr_auc", "regression")


def test_a_model_selected_by_pr_auc_ranks_and_reports_by_it(bundle: Path) -> None:
    model = kiln.load(bundle)
    board = CliRunner().invoke(app, ["leaderboard", str(bundle)], env={"COLUMNS": "200"})

    assert model.metric == "pr_auc" and model.manifest["cv"]["metric"] == "pr_auc"
    assert 0.5 < model.manifest["cv"]["score"] <= 1.0
    oof = model.manifest["cv"]
    assert oof["ci_low"] <= oof["score"] <= oof["ci_high"]
    assert board.exit_code == 0 and f"Leaderboard of {bundle} (pr_auc)" in " ".join(board.output.split())
    assert "PR AUC" in (bundle / "report.html").read_text()  # the training report names it as a reader knows it


def test_the_advice_names_the_option_and_the_help_lists_it() -> None:
    advice = CHECKS["DQ009"].advice
    helped = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"})

    assert "--metric pr_auc" in advice
    assert "pr_auc (average precision)" in " ".join(helped.output.split())
    # --seed says when runs repeat instead of promising it (issue 13, item 11)
    assert "repeat a run only when the time limit cuts no trial short" in " ".join(helped.output.split())


def test_the_label_free_estimate_of_average_precision() -> None:
    assert _expected_average_precision(np.array([0.0, 0.0, 1.0, 1.0])) == pytest.approx(1.0)
    assert _expected_average_precision(np.zeros(4)) is None  # no expected positive
    confident, vague = np.array([0.05, 0.1, 0.9, 0.95]), np.array([0.4, 0.45, 0.55, 0.6])
    assert _expected_average_precision(confident) > _expected_average_precision(vague)
