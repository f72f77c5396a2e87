"""Linear models: logistic regression / ridge on scaled numbers, one-hot and TF-IDF."""

from __future__ import annotations

from typing import Any, ClassVar

from kiln.learners.base import Learner, LearnerTags

PORTFOLIO: list[dict[str, Any]] = [{"C": 1.0}, {"C": 0.1}, {"C": 10.0}]


class LinearLearner(Learner):
    key: ClassVar[str] = "linear"
    tags: ClassVar[LearnerTags] = LearnerTags(
        family="Linear (logistic / ridge)", prep="linear",
        tasks=frozenset({"binary", "multiclass", "regression"}), handles_missing=False,
        native_categorical=False, sample_weight=True, early_stopping=False, persistence="skops",
    )
    configs: ClassVar[tuple[dict[str, Any], ...]] = tuple(PORTFOLIO)
    test_params: ClassVar[dict[str, Any]] = {"C": 1.0}


    @classmethod
    def search_space(cls, trial: Any, task: str) -> dict[str, Any]:
        return {"C": trial.suggest_float("C", 1e-3, 100.0, log=True)}

    def _fit(self, X, y, categorical, X_val, y_val, deadline) -> None:
        strength = float(self._config().get("C", 1.0))
        if self.task == "regression":
            from sklearn.linear_model import Ridge

            self.estimator_ = Ridge(alpha=1.0 / strength, random_state=self.seed)
        else:
            from sklearn.linear_model import LogisticRegression

            self.estimator_ = LogisticRegression(C=strength, max_iter=2000, random_state=self.seed)
        self.estimator_.fit(X, y)
