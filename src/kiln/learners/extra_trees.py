"""Extra trees: random split points; fast to fit and decorrelated from other trees."""

from __future__ import annotations

from typing import Any, ClassVar

from kiln.learners.base import LearnerTags
from kiln.learners.forest import ForestLearner

PORTFOLIO: list[dict[str, Any]] = [
    {"n_estimators": 200, "max_features": "sqrt", "min_samples_leaf": 1},
    {"n_estimators": 200, "max_features": 0.7, "min_samples_leaf": 2},
]


class ExtraTreesLearner(ForestLearner):
    key: ClassVar[str] = "extra_trees"
    classifier: ClassVar[str] = "ExtraTreesClassifier"
    regressor: ClassVar[str] = "ExtraTreesRegressor"
    tags: ClassVar[LearnerTags] = LearnerTags(
        family="ExtraTrees", prep="tree", tasks=frozenset({"binary", "multiclass", "regression"}),
        handles_missing=True, native_categorical=False, sample_weight=True, early_stopping=False,
        persistence="skops",
    )
    configs: ClassVar[tuple[dict[str, Any], ...]] = tuple(PORTFOLIO)
    regression_first_config: ClassVar[dict[str, Any]] = {"max_features": 1.0, "min_samples_leaf": 3}
