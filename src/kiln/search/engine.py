"""The search loop: keep every worker busy with fold tasks until the budget is spent.

Trials are issued by the plan, split into one task per fold, and collected as they
finish; a trial is complete when all its folds are. At the search deadline, running
folds get a short grace to honour their cooperative stop (booster callbacks), then
the pool is killed, so the command never overruns its budget.

A fold whose future fails (not a config that raised: the worker runs those into an
error result) was lost by the runner: on Ray, its worker died and the one retry died
too. Its trial is recorded as failed and counted in `lost_to_workers`; the search goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait

import numpy as np

from kiln.evaluation.metrics import Metric
from kiln.evaluation.stats import fold_interval
from kiln.search.budget import Budget
from kiln.search.plan import SearchPlan
from kiln.search.trial import FoldResult, TrialResult, TrialSpec
from kiln.types import Task

POLL_SECONDS = 0.1
KILL_GRACE_SECONDS = 1.0
FIRST_MODEL_MARGIN = 1.5  # seconds kept for ensembling and saving a lone first model
# A single fold may use at most this share of the search time, so one slow config
# cannot eat the budget; a stopped booster is still a usable (shorter) model.
MAX_FOLD_SHARE = 0.35

ProgressCallback = Callable[[TrialResult, list[TrialResult]], None]


class Search:
    """Cross-validate the plan's trials within the budget."""

    def __init__(self, runner, plan: SearchPlan, budget: Budget, *, y: np.ndarray,
                 folds: list[tuple[np.ndarray, np.ndarray]], task: Task, metric: Metric,
                 n_classes: int, on_trial: ProgressCallback | None = None) -> None:
        self.runner = runner
        self.plan = plan
        self.budget = budget
        self.y = y
        self.folds = folds
        self.task = task
        self.metric = metric
        self.n_classes = n_classes
        self.on_trial = on_trial
        self.results: list[TrialResult] = []
        self.lost_trials = 0
        self.lost_to_workers = 0

    def run(self) -> list[TrialResult]:
        in_flight: dict[Future, tuple[TrialSpec, int]] = {}
        collected: dict[int, list[FoldResult]] = {}
        specs: dict[int, TrialSpec] = {}
        deadline = self.budget.search_deadline
        fold_cap = MAX_FOLD_SHARE * max(deadline - time.time(), 1.0)
        plan_done = False
        while time.time() < deadline:
            while not plan_done and len(in_flight) < 2 * self.runner.n_workers:
                spec = self.plan.next_trial()
                if spec is None:
                    plan_done = self.plan.exhausted or not in_flight
                    break
                specs[spec.trial_id] = spec
                collected[spec.trial_id] = []
                task_deadline = min(deadline, time.time() + fold_cap)
                for fold in range(len(self.folds)):
                    in_flight[self.runner.submit(spec, fold, task_deadline)] = (spec, fold)
            if not in_flight:
                break
            self._collect(in_flight, collected, specs, POLL_SECONDS)
            if plan_done and not in_flight:
                break
        self._drain(in_flight, collected, specs)
        return self.results

    def _drain(self, in_flight: dict, collected: dict, specs: dict) -> None:
        """At the deadline: wait briefly for cooperative stops, then kill the rest.

        With no finished trial yet, the wait stretches into the reserve (down to
        `FIRST_MODEL_MARGIN` before the end of the budget): folds started after the
        deadline stop after their first chunk, so the first model is nearly always saved.
        """
        grace_end = time.time() + KILL_GRACE_SECONDS
        while in_flight:
            if not self.results:
                grace_end = max(grace_end, self.budget.end - FIRST_MODEL_MARGIN)
            remaining = grace_end - time.time()
            if remaining <= 0:
                break
            self._collect(in_flight, collected, specs, remaining)
        self.lost_trials = len(collected)
        self.runner.close(kill=bool(in_flight))

    def _collect(self, in_flight: dict, collected: dict, specs: dict, timeout: float) -> None:
        """Take the folds that finish within `timeout`; complete their trials."""
        done, _ = wait(list(in_flight), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            spec, fold = in_flight.pop(future)
            if spec.trial_id not in collected:
                continue  # the trial was lost with another of its folds
            try:
                collected[spec.trial_id].append(future.result())
            except Exception as exc:
                self._lose(specs[spec.trial_id], fold, exc, collected)
                continue
            if len(collected[spec.trial_id]) == len(self.folds):
                self._finish(specs[spec.trial_id], collected.pop(spec.trial_id))

    def _lose(self, spec: TrialSpec, fold: int, exc: Exception, collected: dict) -> None:
        """Record a trial whose fold the runner lost as failed, so the plan is told."""
        del collected[spec.trial_id]
        self.lost_to_workers += 1
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        lost = FoldResult(spec.trial_id, fold, None, 0.0, 0.0, None,
                          error=f"lost: {type(exc).__name__}: {reason}")
        self._finish(spec, [lost])

    def _finish(self, spec: TrialSpec, folds: list[FoldResult]) -> None:
        folds = sorted(folds, key=lambda r: r.fold)
        errors = [f.error for f in folds if f.error]
        fit_seconds = sum(f.fit_seconds for f in folds)
        n_val = sum(len(self.folds[f.fold][1]) for f in folds)
        predict_per_1k = 1000.0 * sum(f.predict_seconds for f in folds) / max(n_val, 1)
        if errors:
            result = TrialResult(spec, None, [], fit_seconds, predict_per_1k, status="failed", error=errors[0])
        else:
            shape = (len(self.y), self.n_classes) if self.task != "regression" else (len(self.y),)
            oof = np.zeros(shape)
            scores = []
            for fold in folds:
                val_idx = self.folds[fold.fold][1]
                oof[val_idx] = fold.prediction
                scores.append(self.metric.score(self.y[val_idx], fold.prediction, self.task))
            truncated = any(f.stopped_by_deadline for f in folds)
            result = TrialResult(spec, oof, scores, fit_seconds, predict_per_1k,
                                 [f.model_path for f in folds], "truncated" if truncated else "ok")
            result.score, result.ci_low, result.ci_high = fold_interval(scores, bounds=self.metric.bounds)
        self.results.append(result)
        self.plan.report(result)
        if self.on_trial is not None:
            self.on_trial(result, self.results)
