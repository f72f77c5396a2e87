"""A small table every learner test fits on, prepared the way a search prepares it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kiln.data.schema import infer_schema
from kiln.learners.registry import all_learners
from kiln.prep.build import build_prep


@dataclass(frozen=True)
class LearnerData:
    """Features per prep family (with their categorical code columns) and a target per task."""

    features: dict[str, tuple[Any, tuple[int, ...]]]
    targets: dict[str, np.ndarray]

    def get(self, key: str, task: str) -> tuple[Any, tuple[int, ...], np.ndarray]:
        X, categorical = self.features[all_learners()[key].tags.prep]
        return X, categorical, self.targets[task]


@pytest.fixture(scope="session")
def learner_data() -> LearnerData:
    n = 120
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "load": rng.normal(size=n),
        "temperature": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        "line": np.where(rng.random(n) < 0.05, None, rng.choice(["a", "b", "c", "d"], n)),
        "shift": rng.integers(0, 3, n),
        "night": rng.random(n) > 0.5,
    })
    signal = frame["load"] + (frame["line"] == "a") + 0.5 * frame["night"] + 0.3 * rng.normal(size=n)
    targets = {
        "binary": (signal > signal.median()).astype("int64").to_numpy(),
        "multiclass": np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3])).astype("int64"),
        "regression": signal.to_numpy(dtype="float64"),
    }
    schema = infer_schema(frame)
    features = {}
    for family in ("tree", "linear", "knn"):
        plan = build_prep(schema, family)
        features[family] = (plan.transformer.fit_transform(schema.coerce(frame)), plan.categorical)
    assert features["tree"][1], "the tree matrix should carry categorical code columns"
    return LearnerData(features, targets)
