"""LightGBM: the workhorse gradient-boosted trees, saved in LightGBM's text format."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kiln.learners.base import Learner, LearnerTags, past

MAX_ROUNDS = 10_000
EARLY_STOPPING_ROUNDS = 50

# Best first. The first is the measured-strong default (lr 0.05, ~50 leaves, 0.75 row
# subsample); the others add diversity for the ensemble: a deeper slower one, a
# shallow regularised one, and an extra-trees flavour.
PORTFOLIO: list[dict[str, Any]] = [
    {"learning_rate": 0.05, "num_leaves": 48, "bagging_fraction": 0.75, "bagging_freq": 1,
     "feature_fraction": 0.9, "min_data_in_leaf": 20},
    {"learning_rate": 0.03, "num_leaves": 128, "feature_fraction": 0.7, "min_data_in_leaf": 5,
     "lambda_l2": 1.0, "bagging_fraction": 0.8, "bagging_freq": 1},
    {"learning_rate": 0.08, "num_leaves": 15, "feature_fraction": 0.6, "min_data_in_leaf": 40,
     "lambda_l1": 0.5, "lambda_l2": 5.0},
    {"learning_rate": 0.05, "num_leaves": 64, "extra_trees": True, "feature_fraction": 0.8,
     "min_data_in_leaf": 10},
]


class DeadlineStop:
    """A LightGBM callback ending training when the wall-clock deadline passes."""

    def __init__(self, deadline: float | None, learner: Learner) -> None:
        self.deadline = deadline
        self.learner = learner
        self.order = 30  # after early stopping's own callback

    def __call__(self, env: Any) -> None:
        if past(self.deadline):
            import lightgbm as lgb

            self.learner.stopped_by_deadline_ = True
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])


class LightGBMLearner(Learner):
    key: ClassVar[str] = "lightgbm"
    tags: ClassVar[LearnerTags] = LearnerTags(
        family="LightGBM", prep="tree", tasks=frozenset({"binary", "multiclass", "regression"}),
        handles_missing=True, native_categorical=True, sample_weight=True, early_stopping=True,
        persistence="lightgbm-text",
    )
    configs: ClassVar[tuple[dict[str, Any], ...]] = tuple(PORTFOLIO)
    test_params: ClassVar[dict[str, Any]] = {"num_leaves": 7, "n_rounds": 20}


    @classmethod
    def search_space(cls, trial: Any, task: str) -> dict[str, Any]:
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 4, 256, log=True),
            "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 2, 100, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
            "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
            "bagging_freq": 1,
            "lambda_l1": trial.suggest_float("lambda_l1", 1e-3, 10.0, log=True),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
            "extra_trees": trial.suggest_categorical("extra_trees", [False, True]),
        }

    def _objective(self) -> dict[str, Any]:
        if self.task == "regression":
            return {"objective": "regression", "metric": "l2"}
        if self._n_seen == 2:
            return {"objective": "binary", "metric": "binary_logloss"}
        return {"objective": "multiclass", "metric": "multi_logloss", "num_class": self._n_seen}

    def _fit(self, X, y, categorical, X_val, y_val, deadline) -> None:
        import lightgbm as lgb

        config = self._config()
        n_rounds = config.pop("n_rounds", MAX_ROUNDS)
        params = {**self._objective(), "verbosity": -1, "seed": self.seed, "deterministic": True,
                  "num_threads": self.n_threads, "max_cat_to_onehot": 8, **config}
        labels = self._local_labels(y) if self.is_classifier else y
        train = lgb.Dataset(X, labels, categorical_feature=list(categorical) or "auto",
                            free_raw_data=True)
        callbacks: list[Any] = [DeadlineStop(deadline, self)]
        valid = []
        if X_val is not None:
            val_labels = self._local_labels(y_val) if self.is_classifier else y_val
            valid = [lgb.Dataset(X_val, val_labels, reference=train)]
            callbacks.append(lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False))
        self.booster_ = lgb.train(params, train, num_boost_round=n_rounds, valid_sets=valid,
                                  callbacks=callbacks)

    def rounds_used(self) -> int | None:
        best = self.booster_.best_iteration  # 0 without early stopping, -1 once loaded from a file
        return best if best > 0 else self.booster_.current_iteration()

    def _predict(self, X) -> np.ndarray:
        return self.booster_.predict(X, num_iteration=self.booster_.best_iteration or None)

    def save(self, folder: Path) -> None:
        self._write_params(folder, best_iteration=self.booster_.best_iteration)
        self.booster_.save_model(str(folder / "booster.txt"), num_iteration=self.booster_.best_iteration or None)

    @classmethod
    def load(cls, folder: Path, trusted: list[str]) -> LightGBMLearner:
        import lightgbm as lgb

        learner = cls._read_params(folder)
        learner.booster_ = lgb.Booster(model_file=str(folder / "booster.txt"))
        return learner
