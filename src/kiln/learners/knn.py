"""k-nearest neighbours on standardised features: a different bias for the ensemble."""

from __future__ import annotations

from typing import Any, ClassVar

from kiln.learners.base import Learner, LearnerTags

PORTFOLIO: list[dict[str, Any]] = [
    {"n_neighbors": 15, "weights": "distance"},
    {"n_neighbors": 50, "weights": "uniform"},
]


class KNeighborsLearner(Learner):
    key: ClassVar[str] = "knn"
    tags: ClassVar[LearnerTags] = LearnerTags(
        family="k-nearest neighbours", prep="knn", tasks=frozenset({"binary", "multiclass", "regression"}),
        handles_missing=False, native_categorical=False, sample_weight=False, early_stopping=False,
        persistence="skops",
    )
    configs: ClassVar[tuple[dict[str, Any], ...]] = tuple(PORTFOLIO)
    test_params: ClassVar[dict[str, Any]] = {"n_neighbors": 5}


    @classmethod
    def search_space(cls, trial: Any, task: str) -> dict[str, Any]:
        return {"n_neighbors": trial.suggest_int("n_neighbors", 3, 100, log=True),
                "weights": trial.suggest_categorical("weights", ["uniform", "distance"])}

    def _fit(self, X, y, categorical, X_val, y_val, deadline) -> None:
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        config = self._config()
        config["n_neighbors"] = max(1, min(int(config.get("n_neighbors", 15)), X.shape[0] - 1))
        cls = KNeighborsRegressor if self.task == "regression" else KNeighborsClassifier
        self.estimator_ = cls(n_jobs=self.n_threads, **config).fit(X, y)
