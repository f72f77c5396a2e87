"""scikit-learn's HistGradientBoosting: a dependable booster with native categoricals.

Categorical columns of up to `onehot.MAX_LEVELS` levels reach it one-hot (`OneHotCodes`), so the
model exports to ONNX (skl2onnx reads a categorical split as a numeric one); wider ones, up to
its bin count, stay native."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from threadpoolctl import threadpool_limits

from kiln.learners.base import Learner, LearnerTags, past
from kiln.learners.onehot import OneHotCodes

ROUNDS_PER_CHUNK = 50
MAX_ROUNDS = 2_000
MAX_NATIVE_CATEGORIES = 250  # HGB caps categorical cardinality at its bin count

PORTFOLIO: list[dict[str, Any]] = [
    {"learning_rate": 0.06, "max_leaf_nodes": 31, "min_samples_leaf": 20, "l2_regularization": 0.0},
    {"learning_rate": 0.1, "max_leaf_nodes": 15, "min_samples_leaf": 40, "l2_regularization": 1.0},
]


class HistGradientBoostingLearner(Learner):
    key: ClassVar[str] = "hist_gradient_boosting"
    tags: ClassVar[LearnerTags] = LearnerTags(
        family="HistGradientBoosting", prep="tree", tasks=frozenset({"binary", "multiclass", "regression"}),
        handles_missing=True, native_categorical=True, sample_weight=True, early_stopping=True,
        persistence="skops",
    )
    configs: ClassVar[tuple[dict[str, Any], ...]] = tuple(PORTFOLIO)
    test_params: ClassVar[dict[str, Any]] = {"max_leaf_nodes": 7, "n_rounds": 20}


    @classmethod
    def search_space(cls, trial: Any, task: str) -> dict[str, Any]:
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 4, 128, log=True),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 2, 100, log=True),
            "l2_regularization": trial.suggest_float("l2_regularization", 1e-3, 10.0, log=True),
            "max_features": trial.suggest_float("max_features", 0.4, 1.0),
        }

    def _fit(self, X, y, categorical, X_val, y_val, deadline) -> None:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        config = self._config()
        n_rounds = config.pop("n_rounds", MAX_ROUNDS)
        self.onehot_ = OneHotCodes.fit(X, categorical)
        X = self.onehot_.transform(X)
        X_val = None if X_val is None else self.onehot_.transform(X_val)
        native = [i for i in self.onehot_.native(categorical)
                  if np.nanmax(np.append(X[:, i], 0)) < MAX_NATIVE_CATEGORIES]
        cls = HistGradientBoostingRegressor if self.task == "regression" else HistGradientBoostingClassifier
        self.estimator_ = cls(max_iter=0, warm_start=True, early_stopping=X_val is not None,
                              n_iter_no_change=30, categorical_features=native or None,
                              random_state=self.seed, **config)
        validation = {"X_val": X_val, "y_val": y_val} if X_val is not None else {}
        with threadpool_limits(self.n_threads):  # HGB has no thread option of its own
            while self.estimator_.max_iter < n_rounds:
                if past(deadline) and self.estimator_.max_iter > 0:  # always fit one chunk
                    self.stopped_by_deadline_ = True
                    break
                self.estimator_.max_iter = min(n_rounds, self.estimator_.max_iter + ROUNDS_PER_CHUNK)
                self.estimator_.fit(X, y, **validation)
                if self.estimator_.n_iter_ < self.estimator_.max_iter:
                    break  # early stopping ended it

    def rounds_used(self) -> int | None:
        return int(self.estimator_.n_iter_)

    def _predict(self, X) -> np.ndarray:
        with threadpool_limits(self.n_threads):
            return super()._predict(self.onehot_.transform(X))

    def save(self, folder: Path) -> None:
        super().save(folder, onehot=self.onehot_.to_json())

    @classmethod
    def load(cls, folder: Path, trusted: list[str]) -> HistGradientBoostingLearner:
        learner = super().load(folder, trusted)
        learner.onehot_ = OneHotCodes.from_json(learner.saved_state_.get("onehot"))
        return learner
