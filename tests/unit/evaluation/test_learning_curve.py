"""The learning curve: more training rows, a better cross-validated score, from leftover time."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kiln.data.schema import infer_schema
from kiln.evaluation.metrics import get_metric
from kiln.search.trial import TrialSpec
from kiln.training.learning_curve import learning_curve


@pytest.fixture
def problem() -> tuple[pd.DataFrame, np.ndarray, list]:
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=1500), "b": rng.normal(size=1500), "c": rng.normal(size=1500)})
    y = ((frame["a"] * frame["b"] + 0.5 * frame["c"] + rng.normal(scale=0.3, size=1500)) > 0).astype("int64")
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(frame, y))
    return frame, y.to_numpy(), folds


def _curve(problem, tmp_path: Path, deadline: float) -> dict | None:
    frame, y, folds = problem
    schema = infer_schema(frame)
    spec = TrialSpec(0, "lightgbm", {"num_leaves": 15}, "portfolio")
    return learning_curve(schema.coerce(frame), y, folds, schema, "binary", 2, spec=spec, full_scores=[0.9, 0.91, 0.92],
                          metric=get_metric(None, "binary"), seed=0, deadline=deadline, scratch=tmp_path,
                          fit_seconds=1.0)


def test_learning_curve_grows_with_rows_and_ends_at_the_full_cv_score(problem, tmp_path: Path) -> None:
    curve = _curve(problem, tmp_path, time.time() + 60)

    points = curve["points"]
    assert [p["fraction"] for p in points] == [0.1, 0.25, 0.5, 1.0]
    assert [p["rows"] for p in points] == sorted(p["rows"] for p in points)
    assert points[-1]["score"] == pytest.approx(0.91)
    assert points[0]["score"] < points[2]["score"]  # an interaction needs rows to be learned
    assert all(p["ci_low"] <= p["score"] <= p["ci_high"] for p in points)


def test_learning_curve_is_skipped_when_no_time_is_left(problem, tmp_path: Path) -> None:
    assert _curve(problem, tmp_path, time.time() - 1) is None
