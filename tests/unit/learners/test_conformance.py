"""The conformance suite: every registered learner, on every task it declares, keeps the
estimator contract and kiln's own promises (probabilities, seeds, persistence, deadlines).

Features come from `build_prep(schema, learner.tags.prep)`, so each learner sees the
matrix it sees in a search, categorical code columns included.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone

from kiln.learners.base import Learner
from kiln.learners.registry import all_learners

REGISTERED = all_learners()
# Known src bugs, by (learner, task), run as strict xfails so a fix shows up (none open).
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def _cases(keep=lambda key, task: True, bugs: dict[tuple[str, str], str] | None = None) -> list:
    """(learner, task) parameters for every registered learner and task it declares."""
    bugs = {**KNOWN_BUGS, **(bugs or {})}
    cases = []
    for key, learner in sorted(REGISTERED.items()):
        for task in ("binary", "multiclass", "regression"):
            if task in learner.tags.tasks and keep(key, task):
                reason = bugs.get((key, task))
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                cases.append(pytest.param(key, task, id=f"{key}-{task}", marks=marks))
    return cases


CASES = _cases()
CLASSIFICATION_CASES = _cases(lambda key, task: task != "regression")
REGRESSION_CASES = _cases(lambda key, task: task == "regression")
EARLY_STOPPING_CASES = _cases(lambda key, task: REGISTERED[key].tags.early_stopping)
DEADLINE_CASES = _cases()
MULTICLASS_KEYS = sorted(key for key, learner in REGISTERED.items() if "multiclass" in learner.tags.tasks)
# Learners that grow rounds or trees, and so can stop early at a deadline.
ITERATIVE = {"lightgbm", "xgboost", "catboost", "hist_gradient_boosting", "random_forest", "extra_trees"}


def _learner(key: str, task: str, seed: int = 0, **params: Any) -> Learner:
    cls = REGISTERED[key]
    return cls(task=task, n_classes=_n_classes(task), params={**cls.test_params, **params}, seed=seed)


def _fitted(key: str, task: str, learner_data, seed: int = 0, **kwargs: Any) -> tuple[Learner, Any]:
    """A learner fitted on the shared table, and the matrix it was fitted on."""
    X, categorical, y = learner_data.get(key, task)
    params = kwargs.pop("params", {})
    return _learner(key, task, seed, **params).fit(X, y, categorical=categorical, **kwargs), X


def _assert_probabilities(p: np.ndarray, n_rows: int, n_classes: int) -> None:
    assert p.shape == (n_rows, n_classes)
    assert np.all((p >= 0.0) & (p <= 1.0))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("key", "task"), CASES)
def test_clone_round_trip_keeps_params_and_drops_fitted_state(key, task, learner_data) -> None:
    learner, _ = _fitted(key, task, learner_data, seed=3)

    twin = clone(learner)

    assert twin.get_params() == learner.get_params()
    assert set(twin.get_params()) == {"task", "n_classes", "params", "seed", "n_threads"}
    assert twin.params is not learner.params
    assert not hasattr(twin, "classes_seen_")


@pytest.mark.parametrize(("key", "task"), CASES)
def test_fit_returns_self(key, task, learner_data) -> None:
    X, categorical, y = learner_data.get(key, task)
    learner = _learner(key, task)

    assert learner.fit(X, y, categorical=categorical) is learner
    assert learner.stopped_by_deadline_ is False


@pytest.mark.parametrize(("key", "task"), CLASSIFICATION_CASES)
def test_probabilities_have_one_column_per_class_and_sum_to_one(key, task, learner_data) -> None:
    learner, X = _fitted(key, task, learner_data)

    _assert_probabilities(learner.predict_raw(X), X.shape[0], learner.n_classes)


@pytest.mark.parametrize(("key", "task"), REGRESSION_CASES)
def test_regression_predicts_one_finite_value_per_row(key, task, learner_data) -> None:
    learner, X = _fitted(key, task, learner_data)

    prediction = learner.predict_raw(X)

    assert prediction.shape == (X.shape[0],)
    assert np.isfinite(prediction).all()


@pytest.mark.parametrize(("key", "task"), CASES)
def test_same_seed_gives_identical_predictions(key, task, learner_data) -> None:
    first, X = _fitted(key, task, learner_data, seed=7)
    second, _ = _fitted(key, task, learner_data, seed=7)

    np.testing.assert_array_equal(first.predict_raw(X), second.predict_raw(X))


@pytest.mark.parametrize(("key", "task"), CASES)
def test_save_then_load_predicts_identically(key, task, learner_data, tmp_path: Path) -> None:
    learner, X = _fitted(key, task, learner_data)

    learner.save(tmp_path)
    loaded = type(learner).load(tmp_path, [])

    assert type(loaded) is type(learner)
    assert loaded.get_params() == learner.get_params()
    np.testing.assert_allclose(loaded.predict_raw(X), learner.predict_raw(X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("key", "task"), EARLY_STOPPING_CASES)
def test_early_stopped_model_predicts_and_reloads_identically(key, task, learner_data, tmp_path: Path) -> None:
    X, categorical, y = learner_data.get(key, task)
    stop = np.arange(len(y)) % 5 == 0
    learner = _learner(key, task, n_rounds=300).fit(X[~stop], y[~stop], categorical=categorical,
                                                    X_val=X[stop], y_val=y[stop])

    prediction = learner.predict_raw(X)
    learner.save(tmp_path)

    assert np.isfinite(prediction).all()
    np.testing.assert_allclose(type(learner).load(tmp_path, []).predict_raw(X), prediction, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("key", MULTICLASS_KEYS)
def test_fold_lacking_a_class_still_gives_every_probability_column(key, learner_data) -> None:
    X, categorical, y = learner_data.get(key, "multiclass")
    rows = y != 1  # the fold saw classes 0 and 2 only
    learner = _learner(key, "multiclass").fit(X[rows], y[rows], categorical=categorical)

    p = learner.predict_raw(X)

    _assert_probabilities(p, len(y), 3)
    assert np.all(p[:, 1] == 0.0)
    assert learner.classes_seen_.tolist() == [0, 2]


def _long_params(key: str) -> dict[str, Any]:
    """Enough rounds or trees that a normal fit clearly outlasts a stopped one."""
    test_params = REGISTERED[key].test_params
    if "n_rounds" in test_params:
        return {"n_rounds": 1000}
    if "n_estimators" in test_params:
        return {"n_estimators": 500}
    return {}


@pytest.mark.parametrize(("key", "task"), DEADLINE_CASES)
def test_past_deadline_returns_quickly_with_a_usable_model(key, task, learner_data) -> None:
    X, categorical, y = learner_data.get(key, task)
    params = _long_params(key)
    started = time.perf_counter()
    _learner(key, task, **params).fit(X, y, categorical=categorical)
    normal_seconds = time.perf_counter() - started

    learner = _learner(key, task, **params)
    started = time.perf_counter()
    learner.fit(X, y, categorical=categorical, deadline=time.time() - 1)
    stopped_seconds = time.perf_counter() - started
    prediction = learner.predict_raw(X)

    if task == "regression":
        assert prediction.shape == (len(y),) and np.isfinite(prediction).all()
    else:
        _assert_probabilities(prediction, len(y), learner.n_classes)
    if key in ITERATIVE:
        assert learner.stopped_by_deadline_ is True
        assert stopped_seconds < normal_seconds / 3, (stopped_seconds, normal_seconds)
    else:
        assert learner.stopped_by_deadline_ is False


# -- declared configurations ----------------------------------------------------------------

def _cheap(key: str) -> dict[str, Any]:
    """Overrides that keep a declared config's own choices but cap its rounds or trees."""
    test_params = REGISTERED[key].test_params
    return {name: 5 for name in ("n_rounds", "n_estimators") if name in test_params}


@pytest.mark.parametrize(("key", "task"), CASES)
def test_every_portfolio_config_fits(key, task, learner_data) -> None:
    X, categorical, y = learner_data.get(key, task)
    configs = REGISTERED[key].portfolio(task)

    assert configs, f"{key} declares no portfolio config for {task}"
    for config in configs:
        learner = REGISTERED[key](task=task, n_classes=_n_classes(task), params={**config, **_cheap(key)})
        assert np.isfinite(learner.fit(X, y, categorical=categorical).predict_raw(X)).all(), config


@pytest.mark.parametrize("key", sorted(REGISTERED))
def test_portfolio_hands_out_copies(key) -> None:
    task = sorted(REGISTERED[key].tags.tasks)[0]
    first = REGISTERED[key].portfolio(task)
    first[0]["edited"] = True

    assert "edited" not in REGISTERED[key].portfolio(task)[0]


@pytest.mark.parametrize(("key", "task"), CASES)
def test_search_space_samples_a_config_that_fits(key, task, learner_data) -> None:
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    config = REGISTERED[key].search_space(trial, task)
    X, categorical, y = learner_data.get(key, task)

    learner = REGISTERED[key](task=task, n_classes=_n_classes(task), params={**config, **_cheap(key)})

    assert trial.params, f"{key} searches nothing"
    assert np.isfinite(learner.fit(X, y, categorical=categorical).predict_raw(X)).all()
    assert REGISTERED[key].search_space(optuna.trial.FixedTrial(trial.params), task) == config


def _n_classes(task: str) -> int:
    return {"binary": 2, "multiclass": 3, "regression": 0}[task]
