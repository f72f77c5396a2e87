"""XGBoost: histogram boosting, saved as XGBoost JSON.

Categorical columns of up to `onehot.MAX_LEVELS` levels reach it one-hot (`OneHotCodes`), the
splits its `max_cat_to_onehot` makes of them anyway, so the model exports to ONNX (onnxmltools
does not write categorical splits); wider ones stay native, with XGBoost's partition splits."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kiln.learners.base import Learner, LearnerTags, past
from kiln.learners.onehot import OneHotCodes

MAX_ROUNDS = 10_000
EARLY_STOPPING_ROUNDS = 50

# Best first: the measured default (lr 0.08, depth 6), then a deeper column-sampled
# one and a shallow heavily regularised one for ensemble diversity.
PORTFOLIO: list[dict[str, Any]] = [
    {"learning_rate": 0.08, "max_depth": 6, "subsample": 0.8, "colsample_bytree": 0.8,
     "min_child_weight": 1.0},
    {"learning_rate": 0.04, "max_depth": 8, "subsample": 0.7, "colsample_bytree": 0.6,
     "min_child_weight": 2.0, "reg_lambda": 3.0},
    {"learning_rate": 0.1, "max_depth": 3, "subsample": 0.9, "colsample_bytree": 0.9,
     "reg_alpha": 1.0, "reg_lambda": 10.0},
]


def _deadline_callback(deadline: float | None, learner: Learner) -> Any:
    import xgboost as xgb

    class DeadlineStop(xgb.callback.TrainingCallback):
        """Ends boosting when the wall-clock deadline passes."""

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            if past(deadline):
                learner.stopped_by_deadline_ = True
                return True
            return False

    return DeadlineStop()


class XGBoostLearner(Learner):
    key: ClassVar[str] = "xgboost"
    tags: ClassVar[LearnerTags] = LearnerTags(
        family="XGBoost", prep="tree", tasks=frozenset({"binary", "multiclass", "regression"}),
        handles_missing=True, native_categorical=True, sample_weight=True, early_stopping=True,
        persistence="xgboost-json",
    )
    configs: ClassVar[tuple[dict[str, Any], ...]] = tuple(PORTFOLIO)
    test_params: ClassVar[dict[str, Any]] = {"max_depth": 3, "n_rounds": 20}


    @classmethod
    def search_space(cls, trial: Any, task: str) -> dict[str, Any]:
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "max_depth": trial.suggest_int("max_depth", 2, 10),
            "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 20.0, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
            "reg_alpha": trial.suggest_float("reg_alpha", 1e-3, 10.0, log=True),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 30.0, log=True),
        }

    def _objective(self) -> dict[str, Any]:
        if self.task == "regression":
            return {"objective": "reg:squarederror", "eval_metric": "rmse"}
        if self._n_seen == 2:
            return {"objective": "binary:logistic", "eval_metric": "logloss"}
        return {"objective": "multi:softprob", "eval_metric": "mlogloss", "num_class": self._n_seen}

    def _matrix(self, X: Any, y: Any = None) -> Any:
        import xgboost as xgb

        types = ["c" if i in self.categorical_ else "q" for i in range(X.shape[1])]
        return xgb.DMatrix(X, label=y, feature_types=types, enable_categorical=bool(self.categorical_),
                           nthread=self.n_threads)

    def _fit(self, X, y, categorical, X_val, y_val, deadline) -> None:
        import xgboost as xgb

        self.onehot_ = OneHotCodes.fit(X, categorical)
        self.categorical_ = self.onehot_.native(categorical)
        X = self.onehot_.transform(X)
        X_val = None if X_val is None else self.onehot_.transform(X_val)
        config = self._config()
        n_rounds = config.pop("n_rounds", MAX_ROUNDS)
        params = {**self._objective(), "tree_method": "hist", "nthread": self.n_threads,
                  "seed": self.seed, "max_cat_to_onehot": 8, "verbosity": 0, **config}
        labels = self._local_labels(y) if self.is_classifier else y
        train = self._matrix(X, labels)
        evals, early = [], None
        if X_val is not None:
            val_labels = self._local_labels(y_val) if self.is_classifier else y_val
            evals, early = [(self._matrix(X_val, val_labels), "valid")], EARLY_STOPPING_ROUNDS
        self.booster_ = xgb.train(params, train, num_boost_round=n_rounds, evals=evals,
                                  early_stopping_rounds=early, verbose_eval=False,
                                  callbacks=[_deadline_callback(deadline, self)])

    def _best_range(self) -> tuple[int, int]:
        best = getattr(self.booster_, "best_iteration", None)
        return (0, best + 1) if best is not None else (0, self.booster_.num_boosted_rounds())

    def rounds_used(self) -> int | None:
        return self._best_range()[1]

    def _predict(self, X) -> np.ndarray:
        return self.booster_.predict(self._matrix(self.onehot_.transform(X)), iteration_range=self._best_range())

    def save(self, folder: Path) -> None:
        start, stop = self._best_range()
        self._write_params(folder, categorical=list(self.categorical_), onehot=self.onehot_.to_json())
        self.booster_[start:stop].save_model(str(folder / "booster.json"))

    @classmethod
    def load(cls, folder: Path, trusted: list[str]) -> XGBoostLearner:
        import xgboost as xgb

        learner = cls._read_params(folder)
        learner.categorical_ = tuple(learner.saved_state_["categorical"])
        learner.onehot_ = OneHotCodes.from_json(learner.saved_state_.get("onehot"))
        learner.booster_ = xgb.Booster(model_file=str(folder / "booster.json"))
        return learner
