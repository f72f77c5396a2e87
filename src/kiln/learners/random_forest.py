"""Random forest: bootstrap-bagged trees; diverse from boosting, good in ensembles."""

from __future__ import annotations

from typing import Any, ClassVar

from kiln.learners.base import LearnerTags
from kiln.learners.forest import ForestLearner

PORTFOLIO: list[dict[str, Any]] = [
    {"n_estimators": 200, "max_features": "sqrt", "min_samples_leaf": 1},
    {"n_estimators": 200, "max_features": 0.5, "min_samples_leaf": 3},
]


class RandomForestLearner(ForestLearner):
    key: ClassVar[str] = "random_forest"
    classifier: ClassVar[str] = "RandomForestClassifier"
    regressor: ClassVar[str] = "RandomForestRegressor"
    tags: ClassVar[LearnerTags] = LearnerTags(
        family="RandomForest", prep="tree", tasks=frozenset({"binary", "multiclass", "regression"}),
        handles_missing=True, native_categorical=False, sample_weight=True, early_stopping=False,
        persistence="skops",
    )
    configs: ClassVar[tuple[dict[str, Any], ...]] = tuple(PORTFOLIO)
    regression_first_config: ClassVar[dict[str, Any]] = {"max_features": 0.6, "min_samples_leaf": 3}
