"""The search loop: keep every worker busy with fold tasks until the budget is spent.

Trials are issued by the plan, split into one task per fold, and collected as they
finish; a trial is complete when all its folds are. At the search deadline, running
folds get a short grace to honour their cooperative stop (booster callbacks), then
the pool is killed, so the command never overruns its budget.

On a busy machine a fold may wait in the pool for seconds, so its time is counted from
when it *starts* (a `FoldClock`), not from when it was submitted. The search adapts to
how fast folds really run: a fold is started only while the time left before the search
deadline covers what folds of its family have taken so far (else it is skipped), and the
first trial is guaranteed (and, with a `first_runner`, started in this process while the
pool's workers start, each fold also sent to the pool, run where it starts first): its
folds run to their own end (early stopping), into the reserve on a machine too busy to
finish any model in the search time, but not past `first_model_end` (the limit less what
comes after the search): a late model beats none, an overrun command does not. A trial whose fold the
deadline stopped before it learned (fewer than `MIN_ROUNDS` rounds, or no better than
the baseline on its own fold) is marked `unlearned` and never kept.

A fold whose future fails (not a config that raised: the worker runs those into an
error result) was lost by the runner: on Ray, its worker died and the one retry died
too. Its trial is recorded as failed and counted in `lost_to_workers`; the search goes on.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path

import numpy as np

from kiln.evaluation.metrics import Metric
from kiln.evaluation.stats import fold_interval
from kiln.search.budget import Budget
from kiln.search.plan import SearchPlan
from kiln.search.trial import FoldClock, FoldResult, TrialProgress, TrialResult, TrialSpec
from kiln.types import Task

POLL_SECONDS = 0.1
KILL_GRACE_SECONDS = 1.0
# The guaranteed first model may finish this many times --time-limit after the start, at
# most (by default; training passes the limit less the time its report and bundle take),
# when the machine was too busy for it to finish within the search time: it may use the
# reserve, but no longer runs past the limit (2× it did: 115 s at --time-limit 60 on
# fine_foods, 2 busy cores).
FIRST_MODEL_OVERRUN = 1.0
# A single fold may use at most this share of the search time, so one slow config
# cannot eat the budget; a stopped booster is still a usable (shorter) model.
MAX_FOLD_SHARE = 0.35
# A fold the deadline stopped is kept only with at least this many boosting rounds (and
# a score better than the baseline's on its fold): one tree is not a model.
MIN_ROUNDS = 20

ProgressCallback = Callable[[TrialResult, list[TrialResult]], None]
# Told the trials in progress (sent, not finished; a sent fold may still wait for a free
# worker) each time that list or their folds done change, so a display can show what runs.
RunningCallback = Callable[[list[TrialProgress]], None]


class Search:
    """Cross-validate the plan's trials within the budget."""

    def __init__(self, runner, plan: SearchPlan, budget: Budget, *, y: np.ndarray,
                 folds: list[tuple[np.ndarray, np.ndarray]], task: Task, metric: Metric,
                 n_classes: int, on_trial: ProgressCallback | None = None, first_runner=None,
                 on_running: RunningCallback | None = None, claims: str | None = None,
                 first_model_end: float | None = None) -> None:
        self.runner = runner
        # The guaranteed first model's folds end by then at the latest (default: the limit).
        self.first_model_end = budget.start + FIRST_MODEL_OVERRUN * budget.total if first_model_end is None \
            else first_model_end
        self.claims = claims  # a folder for the shared first trial's fold claims (default: a temporary one)
        self.first_runner = first_runner  # runs the guaranteed first trial, if given (ThreadRunner)
        self.plan = plan
        self.budget = budget
        self.y = y
        self.folds = folds
        self.task = task
        self.metric = metric
        self.n_classes = n_classes
        self.on_trial = on_trial
        self.on_running = on_running
        self._told: tuple[TrialProgress, ...] = ()
        self.results: list[TrialResult] = []
        self.lost_trials = 0
        self.lost_to_workers = 0
        self.unsent = 0  # trials not sent: their family's folds take longer than the time left
        self._guaranteed: int | None = None  # the trial that must finish: the first model
        self._fold_seconds: dict[str, list[float]] = {}  # observed fold times per learner
        self._baselines: dict[int, float] = {}

    def run(self) -> list[TrialResult]:
        in_flight: dict[Future, tuple[TrialSpec, int]] = {}
        collected: dict[int, list[FoldResult]] = {}
        specs: dict[int, TrialSpec] = {}
        deadline = self.budget.search_deadline
        fold_cap = MAX_FOLD_SHARE * max(deadline - time.time(), 1.0)
        plan_done = False
        first = True  # the first model is issued even when reading the data took the search time
        while first or time.time() < deadline:
            first = False
            while not plan_done and self._queued_in_pool(in_flight) < 2 * self.runner.n_workers:
                if self._nothing_fits(deadline):
                    plan_done = True  # no family's fold fits in the time left: end the search early
                    break
                spec = self.plan.next_trial()
                if spec is None:
                    plan_done = self.plan.exhausted or not in_flight
                    break
                specs[spec.trial_id] = spec
                collected[spec.trial_id] = []
                clock = self._clock(spec, deadline, fold_cap)
                if clock.start_by is not None and time.time() >= clock.start_by:
                    # Its family's folds take longer than the time left: not sent, not ranked
                    # (counted in `unsent`); the plan hears of it as a failure.
                    self.unsent += 1
                    del collected[spec.trial_id], specs[spec.trial_id]
                    self.plan.report(TrialResult(spec, None, [], 0.0, 0.0, status="skipped"))
                    break
                if spec.trial_id == self._guaranteed and self.first_runner is not None:
                    self._share_first(spec, clock, in_flight)
                else:
                    for fold in range(len(self.folds)):
                        in_flight[self.runner.submit(spec, fold, clock)] = (spec, fold)
            self._tell_running(in_flight, collected)
            if not in_flight:
                break
            self._collect(in_flight, collected, specs, POLL_SECONDS)
            self._tell_running(in_flight, collected)
            if plan_done and not in_flight:
                break
        self._drain(in_flight, collected, specs)
        self._tell_running({}, {})
        return self.results

    def _share_first(self, spec: TrialSpec, clock: FoldClock, in_flight: dict) -> None:
        """Send each fold of the guaranteed trial to both the first runner (in fold order) and
        the pool (in reverse order): whichever starts a fold first claims it (`FoldClock.claim`),
        its twin returns at once as a duplicate. The thread starts at once while the pool's
        workers may still be importing; once they are up, the first model's folds run on
        every core, instead of one after the other in the thread while the pool fits later
        trials (measured: a 5-fold TF-IDF model on 2 busy cores took 98 s in the thread)."""
        claims = Path(self.claims) if self.claims else Path(tempfile.mkdtemp(prefix="kiln-claims-"))
        claims.mkdir(parents=True, exist_ok=True)
        shared = [dataclasses.replace(clock, claim=str(claims / f"trial{spec.trial_id}_fold{fold}"))
                  for fold in range(len(self.folds))]
        for fold in range(len(self.folds)):
            in_flight[self.first_runner.submit(spec, fold, shared[fold])] = (spec, fold)
        for fold in reversed(range(len(self.folds))):
            in_flight[self.runner.submit(spec, fold, shared[fold])] = (spec, fold)

    def _tell_running(self, in_flight: dict, collected: dict) -> None:
        """Tell `on_running` the trials in progress, when they changed since it was last told."""
        if self.on_running is None:
            return
        names = {spec.trial_id: spec.name for spec, _ in in_flight.values() if spec.trial_id in collected}
        now = tuple(TrialProgress(name, len(collected[trial_id]), len(self.folds))
                    for trial_id, name in sorted(names.items()))
        if now != self._told:
            self._told = now
            self.on_running(list(now))

    def _nothing_fits(self, deadline: float) -> bool:
        """True once the quickest family's folds (as observed) take longer than the time left."""
        if not self._fold_seconds or not any(r.kept for r in self.results):
            return False
        quickest = min(float(np.median(times)) for times in self._fold_seconds.values())
        return time.time() + quickest >= deadline

    def _queued_in_pool(self, in_flight: dict) -> int:
        """Folds in flight on the pool (the first runner's do not occupy its workers)."""
        if self.first_runner is None:
            return len(in_flight)
        return sum(spec.trial_id != self._guaranteed for spec, _ in in_flight.values())

    def _clock(self, spec: TrialSpec, deadline: float, fold_cap: float) -> FoldClock:
        """The time each fold of `spec` may use, counted from when the fold starts.

        The first trial (or, if it failed, the next) is the guaranteed first model: its
        folds always start and run to their own end (early stopping), at the latest
        at `first_model_end`. Any other fold is started
        only while the time left before the search deadline covers the folds of its
        family seen so far (or of any family, before its first), and stops at that
        deadline or after `fold_cap` seconds, whichever comes first.
        """
        if self._guaranteed is None and not any(r.kept for r in self.results):
            self._guaranteed = spec.trial_id
            return FoldClock(seconds=float("inf"), end=self._first_model_end)
        return FoldClock(seconds=fold_cap, end=deadline, start_by=deadline - self._expected_fold_seconds(spec.learner))

    @property
    def _first_model_end(self) -> float:
        return self.first_model_end

    def _expected_fold_seconds(self, learner: str) -> float:
        """How long a fold of `learner` takes here and now: the median of its observed
        folds (robust to a cold worker's imports), else the median of every family's; 0
        before any fold finished."""
        seen = self._fold_seconds.get(learner)
        if seen:
            return float(np.median(seen))
        every = [s for times in self._fold_seconds.values() for s in times]
        return float(np.median(every)) if every else 0.0

    def _drain(self, in_flight: dict, collected: dict, specs: dict) -> None:
        """At the deadline: wait briefly for cooperative stops, then kill the rest.

        Queued folds of other trials are skipped as they start (their `start_by` has
        passed). While no trial is kept yet, the wait for the guaranteed first trial
        stretches as far as its folds' own clock (`first_model_end`).
        """
        grace_end = time.time() + KILL_GRACE_SECONDS
        while in_flight:
            if not any(r.kept for r in self.results) and self._guaranteed in collected:
                grace_end = max(grace_end, self._first_model_end + KILL_GRACE_SECONDS)
            remaining = grace_end - time.time()
            if remaining <= 0:
                break
            self._collect(in_flight, collected, specs, remaining)
            self._tell_running(in_flight, collected)
        self.lost_trials = len(collected)
        self.runner.close(kill=bool(in_flight))
        if self.first_runner is not None:
            self.first_runner.close(kill=True)

    def _collect(self, in_flight: dict, collected: dict, specs: dict, timeout: float) -> None:
        """Take the folds that finish within `timeout`; complete their trials."""
        done, _ = wait(list(in_flight), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            spec, fold = in_flight.pop(future)
            if spec.trial_id not in collected:
                continue  # the trial was lost with another of its folds
            try:
                result = future.result()
            except Exception as exc:
                if (spec, fold) in in_flight.values():
                    continue  # a shared fold of the first trial: its twin still runs it
                self._lose(specs[spec.trial_id], fold, exc, collected)
                continue
            if result.duplicate:
                continue  # its twin on the other runner claimed the fold
            collected[spec.trial_id].append(result)
            if not (result.skipped or result.error or result.stopped_by_deadline):
                self._fold_seconds.setdefault(spec.learner, []).append(result.wall_seconds)
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
        skipped = [f.fold for f in folds if f.skipped]
        if errors:
            result = TrialResult(spec, None, [], fit_seconds, predict_per_1k, status="failed", error=errors[0])
        elif skipped:
            result = TrialResult(spec, None, [], fit_seconds, predict_per_1k, status="skipped",
                                 error=f"fold {skipped[0]} not started: less time was left than such a fold takes")
        else:
            shape = (len(self.y), self.n_classes) if self.task != "regression" else (len(self.y),)
            oof = np.zeros(shape)
            scores = []
            for fold in folds:
                val_idx = self.folds[fold.fold][1]
                oof[val_idx] = fold.prediction
                scores.append(self.metric.score(self.y[val_idx], fold.prediction, self.task))
            truncated = any(f.stopped_by_deadline for f in folds)
            unlearned = self._unlearned(folds, scores)
            status = "unlearned" if unlearned else "truncated" if truncated else "ok"
            result = TrialResult(spec, oof, scores, fit_seconds, predict_per_1k,
                                 [f.model_path for f in folds], status, error=unlearned)
            result.score, result.ci_low, result.ci_high = fold_interval(scores, bounds=self.metric.bounds)
        result.wall_seconds = sum(f.wall_seconds for f in folds)
        result.cpu_seconds = sum(f.cpu_seconds for f in folds)
        self.results.append(result)
        self.plan.report(result)
        if self.on_trial is not None:
            self.on_trial(result, self.results)
        if spec.trial_id == self._guaranteed and not result.kept:
            self._guaranteed = None  # the next trial issued is guaranteed instead

    def _unlearned(self, folds: list[FoldResult], scores: list[float]) -> str | None:
        """Why a fold the deadline stopped had not learned yet, or None if all had."""
        for fold, score in zip(folds, scores, strict=True):
            if not fold.stopped_by_deadline:
                continue
            if fold.rounds is not None and fold.rounds < MIN_ROUNDS:
                return (f"stopped by the deadline after {fold.rounds} round(s) on fold {fold.fold} "
                        f"(at least {MIN_ROUNDS} needed)")
            baseline = self._baseline(fold.fold)
            if not self.metric.better(score, baseline):
                return (f"stopped by the deadline no better than the baseline on fold {fold.fold} "
                        f"({self.metric.name} {score:.4g} vs {baseline:.4g})")
        return None

    def _baseline(self, fold: int) -> float:
        """The score on the fold of a constant prediction learned from its training rows:
        the mean (regression) or the class shares (classification)."""
        if fold not in self._baselines:
            train, val = self.folds[fold]
            if self.task == "regression":
                constant = np.full(len(val), float(np.mean(self.y[train])))
            else:
                shares = np.bincount(self.y[train], minlength=self.n_classes) / len(train)
                constant = np.tile(shares, (len(val), 1))
            self._baselines[fold] = self.metric.score(self.y[val], constant, self.task)
        return self._baselines[fold]
