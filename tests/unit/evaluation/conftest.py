"""Models for the evaluation tests: one trained by kiln.train, others assembled from fold models.

Assembling a `Model` by hand from two fold models of one learner keeps explanation tests
for each tree family fast (no search, no budget) while exercising the real prep and learner.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold

import kiln
from kiln.data.schema import infer_schema
from kiln.data.target import infer_target
from kiln.evaluation.metrics import get_metric
from kiln.learners.registry import get
from kiln.model import FoldModel, Member, Model
from kiln.prep.build import build_prep


def _machine_table(n: int, seed: int) -> pd.DataFrame:
    """Failures driven by torque (strongly) and product type (a little); `noise` is noise."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "torque": rng.normal(40, 10, n),
        "noise": rng.normal(0, 1, n),
        "type": rng.choice(["L", "M", "H"], n, p=[0.5, 0.3, 0.2]),
        "serviced": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
    })
    logit = 0.35 * (frame["torque"] - 45) + 0.8 * (frame["type"] == "H")
    frame["failure"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return frame


@pytest.fixture(scope="session")
def binary_model() -> kiln.Model:
    return kiln.train(_machine_table(600, 0), target="failure", learners=["lightgbm"], max_trials=1, n_jobs=1,
                      quiet=True, time_limit=10)


@pytest.fixture(scope="session")
def holdout() -> pd.DataFrame:
    return _machine_table(600, 1)


def _assemble(frame: pd.DataFrame, target: str, task: str, learner: str, n_folds: int = 2) -> Model:
    """A one-member model whose fold models are fitted here with the learner's cheap test parameters."""
    spec = infer_target(frame, target, task)  # type: ignore[arg-type]
    schema = infer_schema(frame, exclude=(target,))
    y = spec.encode(frame[target])
    features = schema.coerce(frame)
    learner_class = get(learner)
    folds = []
    for train, _ in KFold(n_folds, shuffle=True, random_state=0).split(features):
        plan = build_prep(schema, learner_class.tags.prep, task=spec.task)
        encoded = plan.transformer.fit_transform(features.iloc[train], y[train])
        fitted = learner_class(task=spec.task, n_classes=len(spec.classes or []),
                               params=dict(learner_class.test_params), seed=0).fit(
            encoded, y[train], categorical=plan.categorical)
        folds.append(FoldModel(plan.transformer, plan.categorical, fitted))
    member = Member(f"{learner}_0", learner, {}, 1.0, folds)
    return Model(spec, schema, get_metric(None, spec.task).name, [member], pd.DataFrame())


@pytest.fixture(scope="session")
def machine_table() -> Callable[[int, int], pd.DataFrame]:
    """`machine_table(n, seed)`: the synthetic maintenance table."""
    return _machine_table


@pytest.fixture(scope="session")
def assemble() -> Callable[..., Model]:
    """`assemble(frame, target, task, learner)`: a one-member model fitted on two folds."""
    return _assemble
