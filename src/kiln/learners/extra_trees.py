"""Extra trees: random split points; fast to fit and decorrelated from other trees."""

from __future__ import annotations

from typing import Any, ClassVar

from kiln.learners.base import LearnerTags
from kiln.learners.forest import ForestLearner

PORTFOLIO: list[dict[str, Any]] = [
    {"n_estimators": 300, "max_features": "sqrt", "min_samples_leaf": 1},
    {"n_estimators": 300, "max_features": 0.7, "min_samples_leaf": 2},
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

    @classmethod
    def portfolio(cls, task: str) -> list[dict[str, Any]]:
        configs = [dict(p) for p in PORTFOLIO]
        if task == "regression":
            configs[0]["max_features"] = 1.0
        return configs
