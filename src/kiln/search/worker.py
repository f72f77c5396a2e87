"""What runs inside a worker process: fit one fold of one trial.

The training data arrives once per worker, not once per task: through `initialize`, or,
for a local pool started before the data was ready, from a pickle in the run's scratch
folder read on the worker's first task (`run_fold_from`). Each worker keeps the fitted
preprocessing of each (family, fold) it has seen, so trials of the same family share it.
Fitted fold models go to a scratch folder as pickles (trusted: this run wrote them);
only the kept ones become a bundle.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kiln.data.schema import Schema
from kiln.search.trial import FoldClock, FoldResult, TrialSpec
from kiln.types import Task

EARLY_STOPPING_SHARE = 0.1


@dataclass
class WorkerData:
    """Everything a worker needs, shipped once."""

    features: pd.DataFrame
    y: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    schema: Schema
    task: Task
    n_classes: int
    seed: int
    scratch: str
    embed: bool = False  # sentence embeddings of the text columns (prep.embed; the kiln-ml[text] extra)


_DATA: WorkerData | None = None
_DATA_PATH: str | None = None
_PREP_CACHE: dict[tuple[str, int], Any] = {}


def initialize(data: WorkerData) -> None:
    """Pool initializer: keep the data, and stop OpenMP threads from spinning."""
    global _DATA
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    _DATA = data
    _PREP_CACHE.clear()


def warm_up(modules: tuple[str, ...]) -> None:
    """Pool initializer for a pool started before the data is read: import what folds
    need (pandas, scikit-learn, the first learner's library) while the parent reads and
    checks the data, instead of after."""
    import importlib

    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    for name in modules:  # a missing optional library fails later, in the fold that needs it
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def ready() -> None:
    """A no-op task: submitting one per worker makes the pool start them all now."""


def run_fold_from(path: str, spec: TrialSpec, fold: int, clock: FoldClock | float) -> FoldResult:
    """`run_fold`, loading the data from `path` (written by this run) on first use."""
    global _DATA_PATH
    if path != _DATA_PATH:
        with open(path, "rb") as handle:
            initialize(pickle.load(handle))
        _DATA_PATH = path
    return run_fold(spec, fold, clock)


def run_fold(spec: TrialSpec, fold: int, clock: FoldClock | float) -> FoldResult:
    """Fit `spec` on the fold's training rows and predict its validation rows.

    `clock` (FoldClock) counts the fold's time from now, when it starts, not from when
    it was submitted; a fold whose `start_by` has passed is skipped, not run, and so is one
    whose `claim` another runner made first (a duplicate). A plain float is an absolute deadline.
    """
    assert _DATA is not None, "worker used before initialize()"
    started, cpu_started = time.time(), time.thread_time()
    if isinstance(clock, FoldClock):
        if clock.start_by is not None and started >= clock.start_by:
            return FoldResult(spec.trial_id, fold, None, 0.0, 0.0, None, skipped=True)
        if clock.claim is not None and not _claim(clock.claim):
            return FoldResult(spec.trial_id, fold, None, 0.0, 0.0, None, skipped=True, duplicate=True)
        deadline = clock.deadline(started)
    else:
        deadline = float(clock)
    try:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):  # one thread per model: BLAS threads would fight the other workers
            result = _run_fold(_DATA, spec, fold, deadline)
    except Exception as exc:  # a failing config must not end the search
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        result = FoldResult(spec.trial_id, fold, None, 0.0, 0.0, None, error=detail)
    result.wall_seconds = time.time() - started
    result.cpu_seconds = time.thread_time() - cpu_started
    return result


def _claim(path: str) -> bool:
    """Create `path` if no one has: True for the one caller that did (atomic, O_EXCL)."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _run_fold(data: WorkerData, spec: TrialSpec, fold: int, deadline: float) -> FoldResult:
    from kiln.learners.registry import get

    learner_class = get(spec.learner)
    train_idx, _ = data.folds[fold]
    prep, X_train, X_val, categorical = _prepared(data, learner_class.tags.prep, fold, spec.config)
    y_train = data.y[train_idx]
    learner = learner_class(task=data.task, n_classes=data.n_classes, params=spec.config,
                            seed=data.seed, n_threads=1)
    started = time.perf_counter()
    if learner_class.tags.early_stopping:
        fit_rows, stop_rows = _early_stopping_split(y_train, data.task, data.seed + fold)
        learner.fit(X_train[fit_rows], y_train[fit_rows], categorical=categorical,
                    X_val=X_train[stop_rows], y_val=y_train[stop_rows], deadline=deadline)
    else:
        learner.fit(X_train, y_train, categorical=categorical, deadline=deadline)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    prediction = learner.predict_raw(X_val)
    predict_seconds = time.perf_counter() - started
    path = Path(data.scratch) / spec.name / f"fold_{fold}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        pickle.dump((prep, categorical, learner), handle, protocol=pickle.HIGHEST_PROTOCOL)
    return FoldResult(spec.trial_id, fold, prediction, fit_seconds, predict_seconds, str(path),
                      stopped_by_deadline=learner.stopped_by_deadline_, rounds=learner.rounds_used())


def _prepared(data: WorkerData, family: str, fold: int,
              config: dict | None = None) -> tuple[Any, Any, Any, tuple[int, ...]]:
    from kiln.prep.text import text_options

    # A table with text: the linear family's TF-IDF options are part of its prep.
    text = text_options(config) if family == "linear" and data.schema.of_kind("text") else None
    key = (family, fold, tuple(sorted(text.items())) if text else ())
    if key not in _PREP_CACHE:
        from kiln.prep.build import build_prep

        plan = build_prep(data.schema, family, task=data.task, text=text, seed=data.seed,  # type: ignore[arg-type]
                          embed=data.embed)
        train_idx, val_idx = data.folds[fold]
        transformer = plan.transformer
        X_train = transformer.fit_transform(data.features.iloc[train_idx], data.y[train_idx])
        X_val = transformer.transform(data.features.iloc[val_idx])
        _PREP_CACHE[key] = (transformer, X_train, X_val, plan.categorical)
    return _PREP_CACHE[key]


def _early_stopping_split(y: np.ndarray, task: Task, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hold 10% of the training fold out for early stopping, so the validation fold
    stays unseen and out-of-fold scores stay honest."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    stratify = None
    if task != "regression":
        counts = np.bincount(y)
        stratify = y if counts[counts > 0].min() >= 2 else None
    try:
        fit_rows, stop_rows = train_test_split(rows, test_size=EARLY_STOPPING_SHARE, random_state=seed,
                                               stratify=stratify)
    except ValueError:
        fit_rows, stop_rows = train_test_split(rows, test_size=EARLY_STOPPING_SHARE, random_state=seed)
    return np.sort(fit_rows), np.sort(stop_rows)
