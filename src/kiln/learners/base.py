"""What every learner declares and does.

A learner follows the scikit-learn estimator contract (`__init__` stores its keyword
arguments, `fit` returns self, learned state ends in `_`, `clone` works) and adds:

- `key` and typed `tags` (what it can handle, how it is preprocessed and persisted),
- `portfolio(task)`: proven default configurations, best first,
- `search_space(trial, task)`: an Optuna search space for tuning,
- `test_params`: cheap parameters for the conformance suite,
- `fit(..., X_val, y_val, deadline)`: early stopping on a validation split and a
  cooperative stop when the wall-clock deadline passes,
- `save(folder)` / `load(folder)`: safe persistence (native booster formats or skops).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from kiln.types import PrepFamily, Task

PARAMS_FILE = "learner.json"


@dataclass(frozen=True)
class LearnerTags:
    """Capabilities of a learner, read by the planner and the preprocessing."""

    family: str  # human name of the algorithm family
    prep: PrepFamily
    tasks: frozenset[str]
    handles_missing: bool
    native_categorical: bool
    sample_weight: bool
    early_stopping: bool  # uses a validation split to choose its number of rounds
    persistence: str  # "skops" or the native booster format


class Learner(BaseEstimator):
    """Base class; subclasses implement `_fit`, `_predict` and optionally persistence."""

    key: ClassVar[str]
    tags: ClassVar[LearnerTags]
    configs: ClassVar[tuple[dict[str, Any], ...]] = ()  # the portfolio, best first
    test_params: ClassVar[dict[str, Any]] = {}

    def __init__(self, task: Task = "binary", n_classes: int = 2, params: dict | None = None,
                 seed: int = 0, n_threads: int = 1) -> None:
        self.task = task
        self.n_classes = n_classes
        self.params = params
        self.seed = seed
        self.n_threads = n_threads

    # -- declared by each family ---------------------------------------------------------
    @classmethod
    def portfolio(cls, task: Task) -> list[dict[str, Any]]:
        """Default configurations for `task`, best first (copies: callers may edit them)."""
        return [dict(config) for config in cls.configs]

    @classmethod
    def search_space(cls, trial: Any, task: Task) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def text_portfolio(cls, task: Task, short: bool = False) -> list[dict[str, Any]]:
        """The portfolio for a table with a text column (a family whose prep the config
        tunes, as linear's TF-IDF, declares its own; the rest keep theirs); `short`: the
        texts are short (under 100 characters on average)."""
        return cls.portfolio(task)

    @classmethod
    def text_search_space(cls, trial: Any, task: Task) -> dict[str, Any]:
        """The search space for a table with a text column (default: the usual one)."""
        return cls.search_space(trial, task)

    def _fit(self, X: Any, y: np.ndarray, categorical: tuple[int, ...], X_val: Any, y_val: Any,
             deadline: float | None) -> None:
        raise NotImplementedError

    def _predict(self, X: Any) -> np.ndarray:
        """Default for scikit-learn estimators kept in `estimator_`."""
        if self.task == "regression":
            return self.estimator_.predict(X)
        return self.estimator_.predict_proba(X)

    # -- shared behaviour ----------------------------------------------------------------
    @property
    def is_classifier(self) -> bool:
        return self.task != "regression"

    def fit(self, X: Any, y: np.ndarray, *, categorical: tuple[int, ...] = (), X_val: Any = None,
            y_val: Any = None, deadline: float | None = None) -> Learner:
        """Fit on encoded features; `deadline` (time.time()) stops boosting early."""
        self.classes_seen_ = np.unique(y).astype("int64") if self.is_classifier else None
        self.stopped_by_deadline_ = False
        self._fit(X, y, tuple(categorical), X_val, y_val, deadline)
        return self

    def rounds_used(self) -> int | None:
        """Boosting rounds early stopping kept (None for learners without rounds)."""
        return None

    def predict_raw(self, X: Any) -> np.ndarray:
        """Class probabilities over all `n_classes` (classification) or values (regression)."""
        raw = np.asarray(self._predict(X), dtype="float64")
        if not self.is_classifier:
            return raw.reshape(-1)
        if raw.ndim == 1:
            raw = np.column_stack([1.0 - raw, raw])
        if raw.shape[1] != self.n_classes:  # a fold lacked a rare class: spread to full width
            full = np.zeros((raw.shape[0], self.n_classes))
            full[:, self.classes_seen_] = raw
            raw = full
        raw = np.clip(raw, 0.0, 1.0)
        return raw / np.maximum(raw.sum(axis=1, keepdims=True), 1e-12)

    def _config(self) -> dict[str, Any]:
        return dict(self.params or {})

    def _local_labels(self, y: np.ndarray) -> np.ndarray:
        """Codes 0..m-1 over the classes present in this fit (boosters require it)."""
        return np.searchsorted(self.classes_seen_, y)

    @property
    def _n_seen(self) -> int:
        return len(self.classes_seen_)

    # -- persistence ---------------------------------------------------------------------
    def save(self, folder: Path, **state: Any) -> None:
        """Write the fitted learner into `folder` (default: the estimator via skops), with the
        learner's own `state` beside its parameters."""
        from kiln.learners.safe_load import skops_io

        sio = skops_io()
        self._write_params(folder, **state)
        sio.dump(self.estimator_, folder / "estimator.skops")

    @classmethod
    def load(cls, folder: Path, trusted: list[str]) -> Learner:
        from kiln.learners.safe_load import load_skops

        learner = cls._read_params(folder)
        learner.estimator_ = load_skops(folder / "estimator.skops", trusted)
        return learner

    def _write_params(self, folder: Path, **extra: Any) -> None:
        state = {"key": self.key, "init": self.get_params(),
                 "classes_seen": None if self.classes_seen_ is None else self.classes_seen_.tolist(),
                 **extra}
        (folder / PARAMS_FILE).write_text(json.dumps(state, indent=1, default=_json_default))

    @classmethod
    def _read_params(cls, folder: Path) -> Learner:
        state = json.loads((folder / PARAMS_FILE).read_text())
        learner = cls(**state["init"])
        seen = state["classes_seen"]
        learner.classes_seen_ = None if seen is None else np.asarray(seen, dtype="int64")
        learner.stopped_by_deadline_ = False
        learner.saved_state_ = state
        return learner


def past(deadline: float | None) -> bool:
    """True once the wall-clock deadline has passed."""
    return deadline is not None and time.time() >= deadline


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Cannot store {type(value).__name__} in a learner's parameters")
