"""CatBoost: ordered boosting, saved in CatBoost's cbm format.

Categorical columns of up to `onehot.MAX_LEVELS` levels reach it one-hot (`OneHotCodes`), as its
`one_hot_max_size` would split them, so the model exports to ONNX (CatBoost's ONNX export refuses
categorical features); wider ones stay native, with CatBoost's target statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kiln.learners.base import Learner, LearnerTags, past
from kiln.learners.onehot import OneHotCodes

MAX_ROUNDS = 10_000
EARLY_STOPPING_ROUNDS = 50

# Best first: CatBoost's defaults are strong at a fraction of the tuning cost
# (lr 0.08, depth 7 measured well here); then a deeper slow one and a shallow one.
PORTFOLIO: list[dict[str, Any]] = [
    {"learning_rate": 0.08, "depth": 7, "l2_leaf_reg": 3.0},
    {"learning_rate": 0.05, "depth": 8, "l2_leaf_reg": 5.0, "random_strength": 2.0},
    {"learning_rate": 0.1, "depth": 4, "l2_leaf_reg": 1.0},
]


class DeadlineStop:
    """CatBoost callback: returning False ends training when the deadline passes."""

    def __init__(self, deadline: float | None, learner: Learner) -> None:
        self.deadline = deadline
        self.learner = learner

    def after_iteration(self, info: Any) -> bool:
        if past(self.deadline):
            self.learner.stopped_by_deadline_ = True
            return False
        return True


class CatBoostLearner(Learner):
    key: ClassVar[str] = "catboost"
    tags: ClassVar[LearnerTags] = LearnerTags(
        family="CatBoost", prep="tree", tasks=frozenset({"binary", "multiclass", "regression"}),
        handles_missing=True, native_categorical=True, sample_weight=True, early_stopping=True,
        persistence="catboost-cbm",
    )
    configs: ClassVar[tuple[dict[str, Any], ...]] = tuple(PORTFOLIO)
    test_params: ClassVar[dict[str, Any]] = {"depth": 3, "n_rounds": 20}


    @classmethod
    def search_space(cls, trial: Any, task: str) -> dict[str, Any]:
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
            "depth": trial.suggest_int("depth", 4, 9),
            "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 0.5, 20.0, log=True),
            "random_strength": trial.suggest_float("random_strength", 0.1, 5.0, log=True),
            "bagging_temperature": trial.suggest_float("bagging_temperature", 0.0, 2.0),
        }

    def _pool(self, X: np.ndarray, y: Any = None) -> Any:
        """CatBoost wants categorical codes as integers; missing codes become -1."""
        from catboost import Pool

        if not self.categorical_:
            return Pool(X, label=y)
        frame = {i: X[:, i] for i in range(X.shape[1])}
        for i in self.categorical_:
            column = X[:, i]
            frame[i] = np.where(np.isnan(column), -1, column).astype("int64")
        import pandas as pd

        return Pool(pd.DataFrame(frame), label=y, cat_features=list(self.categorical_))

    def _fit(self, X, y, categorical, X_val, y_val, deadline) -> None:
        from catboost import CatBoost

        self.onehot_ = OneHotCodes.fit(X, categorical)
        self.categorical_ = self.onehot_.native(categorical)
        X = self.onehot_.transform(X)
        X_val = None if X_val is None else self.onehot_.transform(X_val)
        config = self._config()
        n_rounds = config.pop("n_rounds", MAX_ROUNDS)
        loss = "RMSE" if self.task == "regression" else "Logloss" if self._n_seen == 2 else "MultiClass"
        params = {"loss_function": loss, "iterations": n_rounds, "random_seed": self.seed,
                  "thread_count": self.n_threads, "allow_writing_files": False, "verbose": False, **config}
        labels = self._local_labels(y) if self.is_classifier else y
        eval_pool = None
        if X_val is not None:
            val_labels = self._local_labels(y_val) if self.is_classifier else y_val
            eval_pool = self._pool(X_val, val_labels)
            params["early_stopping_rounds"] = EARLY_STOPPING_ROUNDS
        self.model_ = CatBoost(params)
        self.model_.fit(self._pool(X, labels), eval_set=eval_pool, use_best_model=eval_pool is not None,
                        callbacks=[DeadlineStop(deadline, self)])

    def rounds_used(self) -> int | None:
        best = self.model_.get_best_iteration()
        return (best if best is not None else self.model_.tree_count_ - 1) + 1

    def _predict(self, X) -> np.ndarray:
        kind = "RawFormulaVal" if self.task == "regression" else "Probability"
        out = self.model_.predict(self._pool(self.onehot_.transform(X)), prediction_type=kind)
        if self.is_classifier and out.ndim == 2 and out.shape[1] == 2 and self._n_seen == 2:
            return out[:, 1]
        return out

    def save(self, folder: Path) -> None:
        self._write_params(folder, categorical=list(self.categorical_), onehot=self.onehot_.to_json())
        self.model_.save_model(str(folder / "model.cbm"), format="cbm")

    @classmethod
    def load(cls, folder: Path, trusted: list[str]) -> CatBoostLearner:
        from catboost import CatBoost

        learner = cls._read_params(folder)
        learner.categorical_ = tuple(learner.saved_state_["categorical"])
        learner.onehot_ = OneHotCodes.from_json(learner.saved_state_.get("onehot"))
        learner.model_ = CatBoost()
        learner.model_.load_model(str(folder / "model.cbm"), format="cbm")
        return learner
