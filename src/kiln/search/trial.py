"""The records a search produces: what to try, and what came of each fold and trial."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Origin = Literal["portfolio", "optuna"]


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


@dataclass
class TrialResult:
    """A cross-validated trial: out-of-fold predictions and per-fold scores."""

    spec: TrialSpec
    oof: np.ndarray | None
    fold_scores: list[float]
    fit_seconds: float
    predict_seconds_per_1k: float
    model_paths: list[str] = field(default_factory=list)
    status: Literal["ok", "failed", "truncated"] = "ok"
    error: str | None = None
    score: float = float("nan")
    ci_low: float = float("nan")
    ci_high: float = float("nan")
