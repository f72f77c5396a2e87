"""The learner registry: built-ins listed in one place, `add()` validates newcomers.

To add a learner, write `learners/<family>.py` with a `Learner` subclass and add one
line to `BUILTINS`.
"""

from __future__ import annotations

from importlib import import_module

from kiln.errors import InvalidOptionError
from kiln.learners.base import Learner, LearnerTags

BUILTINS = (
    "kiln.learners.lightgbm:LightGBMLearner",
    "kiln.learners.catboost:CatBoostLearner",
    "kiln.learners.xgboost:XGBoostLearner",
    "kiln.learners.hist_gradient_boosting:HistGradientBoostingLearner",
    "kiln.learners.random_forest:RandomForestLearner",
    "kiln.learners.extra_trees:ExtraTreesLearner",
    "kiln.learners.linear:LinearLearner",
    "kiln.learners.knn:KNeighborsLearner",
)

_REGISTRY: dict[str, type[Learner]] = {}


def add(learner: type[Learner]) -> type[Learner]:
    """Register a learner class after checking it declares what the planner needs."""
    if not (isinstance(learner, type) and issubclass(learner, Learner)):
        raise InvalidOptionError(f"{learner!r} is not a kiln Learner subclass.")
    key = getattr(learner, "key", None)
    if not key or not isinstance(key, str):
        raise InvalidOptionError(f"{learner.__name__} must declare a string `key`.")
    if not isinstance(getattr(learner, "tags", None), LearnerTags):
        raise InvalidOptionError(f"{learner.__name__} must declare `tags` as a LearnerTags.")
    if key in _REGISTRY and _REGISTRY[key] is not learner:
        raise InvalidOptionError(f"A learner with key '{key}' is already registered.")
    for task in learner.tags.tasks:
        if not learner.portfolio(task):
            raise InvalidOptionError(f"{learner.__name__} declares no portfolio config for {task}.")
    _REGISTRY[key] = learner
    return learner


def _load_builtins() -> None:
    if _REGISTRY:
        return
    for spec in BUILTINS:
        module, name = spec.split(":")
        add(getattr(import_module(module), name))


def get(key: str) -> type[Learner]:
    _load_builtins()
    if key not in _REGISTRY:
        raise InvalidOptionError(f"Unknown learner '{key}'; known learners: {sorted(_REGISTRY)}.")
    return _REGISTRY[key]


def all_learners() -> dict[str, type[Learner]]:
    _load_builtins()
    return dict(_REGISTRY)
