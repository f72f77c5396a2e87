"""Shared behaviour of the two bagged-tree families (random forest, extra trees).

Forests grow in chunks with `warm_start`, so a deadline ends a fit with fewer trees
instead of overrunning the budget.
"""

from __future__ import annotations

from typing import Any, ClassVar

from kiln.learners.base import Learner, past

TREES_PER_CHUNK = 50


class ForestLearner(Learner):
    classifier: ClassVar[str]
    regressor: ClassVar[str]
    # Regression needs more features per split than classification's sqrt, and leaves of
    # one row make trees with as many nodes as rows: bundles balloon for little accuracy.
    regression_first_config: ClassVar[dict[str, Any]] = {}
    test_params: ClassVar[dict[str, Any]] = {"n_estimators": 10, "max_depth": 4}

    @classmethod
    def portfolio(cls, task: str) -> list[dict[str, Any]]:
        configs = super().portfolio(task)
        if task == "regression":
            configs[0].update(cls.regression_first_config)
        return configs

    @classmethod
    def search_space(cls, trial: Any, task: str) -> dict[str, Any]:
        return {
            "n_estimators": 200,
            "max_features": trial.suggest_float("max_features", 0.1, 1.0),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 20, log=True),
            "max_depth": trial.suggest_categorical("max_depth", [None, 8, 16, 32]),
        }

    def _estimator_class(self) -> type:
        import sklearn.ensemble as ensemble

        return getattr(ensemble, self.regressor if self.task == "regression" else self.classifier)

    def _fit(self, X, y, categorical, X_val, y_val, deadline) -> None:
        config = self._config()
        n_trees = config.pop("n_estimators", 200)
        self.estimator_ = self._estimator_class()(n_estimators=0, warm_start=True, n_jobs=self.n_threads,
                                                  random_state=self.seed, **config)
        while self.estimator_.n_estimators < n_trees:
            if past(deadline) and self.estimator_.n_estimators > 0:
                self.stopped_by_deadline_ = True
                break
            self.estimator_.n_estimators = min(n_trees, self.estimator_.n_estimators + TREES_PER_CHUNK)
            self.estimator_.fit(X, y)
