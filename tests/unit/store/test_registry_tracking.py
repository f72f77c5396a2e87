"""What a training run records in MLflow, computed from a bundle's manifest."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from kiln.store import tracking

MANIFEST = {
    "task": "binary", "target": "Machine failure", "metric": "roc_auc", "kiln_version": "0.1.0",
    "created": "2026-01-01T00:00:00+00:00",
    "cv": {"model": "ensemble", "metric": "roc_auc", "score": 0.97, "ci_low": 0.95, "ci_high": 0.99, "n_folds": 5},
    "training": {"rows": 7500, "columns": 8, "data_sha256": "ab" * 32, "seed": 0, "time_limit": 60,
                 "seconds": 41.5, "trials": 30, "max_trials": None},
    "decision": {"threshold": 0.31, "objective": "f1", "value": 0.78},
    "learning_curve": {"metric": "roc_auc", "points": [{"rows": 600, "score": 0.9}, {"rows": 1500, "score": math.nan},
                                                       {"rows": 6000, "score": 0.96}]},
    "members": [{"name": "lightgbm_0", "weight": 0.6}, {"name": "catboost_1", "weight": 0.4}],
}


def test_params_name_the_task_data_budget_and_members() -> None:
    params = tracking.run_params(MANIFEST)

    assert params["task"] == "binary" and params["target"] == "Machine failure" and params["metric"] == "roc_auc"
    assert (params["seed"], params["time_limit"], params["rows"], params["columns"]) == ("0", "60", "7500", "8")
    assert params["members"] == "lightgbm_0×0.6, catboost_1×0.4"
    assert "max_trials" not in params  # unknown values are left out, not logged as "None"


def test_metrics_carry_the_cv_score_its_interval_and_the_threshold() -> None:
    metrics = tracking.run_metrics(MANIFEST)

    assert metrics == {"cv_roc_auc": 0.97, "cv_roc_auc_ci_low": 0.95, "cv_roc_auc_ci_high": 0.99,
                       "decision_threshold": 0.31, "decision_f1": 0.78, "training_seconds": 41.5}


def test_learning_curve_is_one_metric_stepped_by_rows_without_missing_points() -> None:
    assert tracking.learning_curve(MANIFEST) == [("learning_curve_roc_auc", 0.9, 600),
                                                 ("learning_curve_roc_auc", 0.96, 6000)]


def test_tags_hold_the_data_fingerprint() -> None:
    tags = tracking.run_tags(MANIFEST)

    assert tags["kiln.data_sha256"] == "ab" * 32 and tags["kiln.data_rows"] == "7500"


def test_artifacts_go_under_kiln_home_and_sanitised_names_stay_apart(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("KILN_HOME", str(tmp_path))

    assert tracking.artifact_location("churn") == (tmp_path / "artifacts" / "churn").as_uri()
    odd_a, odd_b = tracking.artifact_location("a b"), tracking.artifact_location("a?b")
    assert odd_a != odd_b and Path(odd_a.removeprefix("file://")).parent == tmp_path / "artifacts"


def test_silencing_mlflow_respects_a_users_own_setting(monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_LOGGING_LEVEL", "DEBUG")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "unset below")
    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")

    tracking.silence_mlflow_output()

    assert os.environ["MLFLOW_LOGGING_LEVEL"] == "DEBUG"
    assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "false"


def test_an_unreachable_database_is_one_kiln_error_quickly(monkeypatch) -> None:
    import time

    from kiln.errors import KilnError

    started = time.monotonic()
    with pytest.raises(KilnError, match=r"Cannot reach KILN_DB 'sqlite:////proc/kiln\.db'"):
        tracking.client("sqlite:////proc/kiln.db")
    assert time.monotonic() - started < 10
