"""The records a search produces: what to try, when a fold may run, and what came of
each fold and trial."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Origin = Literal["portfolio", "optuna"]
# ok: every fold ran to its end; truncated: a fold was stopped by the deadline after it
# had learned; unlearned: a fold was stopped before it learned (too few rounds, or no
# better than the baseline on its fold); skipped: a fold was not started, too little
# time was left for it; failed: a fold raised. Only ok and truncated trials are kept.
Status = Literal["ok", "truncated", "unlearned", "skipped", "failed"]
KEPT_STATUSES = ("ok", "truncated")


@dataclass(frozen=True)
class TrialSpec:
    """One configuration of one learner, to be cross-validated."""

    trial_id: int
    learner: str
    config: dict[str, Any]
    origin: Origin

    @property
    def name(self) -> str:
        return f"{self.learner}_{self.trial_id}"


@dataclass(frozen=True)
class TrialProgress:
    """A trial the search has sent and not yet finished: its folds done so far, of all."""

    name: str
    folds_done: int
    folds: int


@dataclass(frozen=True)
class FoldClock:
    """When a fold may run, counted from when it *starts* in its worker.

    A deadline fixed at submission would be spent while the fold waits in the pool on a
    busy machine; it would then start late, stop after one round and look like a model.
    """

    seconds: float  # the fold may fit this long from its start
    end: float  # absolute `time.time()`: no fit goes past it
    start_by: float | None = None  # not started by then: skipped, not run; None: always run
    # A file the fold creates (exclusively) before it runs: the same fold sent to two runners
    # (the guaranteed first trial, see search/engine.py) runs once, where it starts first.
    claim: str | None = None

    def deadline(self, started: float) -> float:
        return min(self.end, started + self.seconds)


@dataclass
class FoldResult:
    """What one fold of one trial produced in a worker."""

    trial_id: int
    fold: int
    prediction: np.ndarray | None  # predictions for the fold's validation rows
    fit_seconds: float
    predict_seconds: float
    model_path: str | None
    stopped_by_deadline: bool = False
    error: str | None = None
    rounds: int | None = None  # boosting rounds kept (None for learners without rounds)
    wall_seconds: float = 0.0  # the whole task in the worker: preparation, fit, predict, save
    skipped: bool = False  # not started: its clock's start_by had passed
    duplicate: bool = False  # not run: its twin on another runner had claimed the fold
    cpu_seconds: float = 0.0  # the task's CPU time in its thread (one thread per model): wall less waiting for a core


@dataclass
class TrialResult:
    """A cross-validated trial: out-of-fold predictions and per-fold scores."""

    spec: TrialSpec
    oof: np.ndarray | None
    fold_scores: list[float]
    fit_seconds: float
    predict_seconds_per_1k: float
    model_paths: list[str] = field(default_factory=list)
    status: Status = "ok"
    error: str | None = None
    score: float = float("nan")
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    wall_seconds: float = 0.0  # the folds' whole tasks in their workers: preparation (TF-IDF, ...), fit, predict
    cpu_seconds: float = 0.0  # the same tasks' CPU time (FoldResult.cpu_seconds)

    @property
    def kept(self) -> bool:
        """May this trial be ranked, ensembled and refit?"""
        return self.status in KEPT_STATUSES and self.oof is not None
