"""The search's clock on a busy machine: a fold's time counts from when it starts.

A pool on a loaded machine makes folds wait before they start. `DelayedRunner` runs the
real worker code in this process, but only after a wait per fold, the way a fold waits
for a free worker; the search must neither cut such a fold short nor keep a fold that
the deadline stopped before it learned.
"""

from __future__ import annotations

import pickle
import time
from concurrent.futures import Future

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_friedman1

from kiln.data.schema import infer_schema
from kiln.evaluation.metrics import get_metric
from kiln.search.budget import Budget
from kiln.search.engine import MIN_ROUNDS, Search
from kiln.search.plan import SearchPlan
from kiln.search.runner import InlineRunner
from kiln.search.trial import FoldClock, FoldResult, TrialResult, TrialSpec
from kiln.search.worker import WorkerData, initialize, run_fold

RMSE = get_metric("rmse", "regression")
WAIT_S = 1.0  # each fold waits this long for a "free worker" before it starts
N_FOLDS = 3


class DelayedRunner(InlineRunner):
    """The inline runner, but each fold starts only after waiting `wait_s` (as in a busy pool)."""

    def __init__(self, data: WorkerData, wait_s: float) -> None:
        super().__init__(data)
        self.wait_s = wait_s

    def submit(self, spec: TrialSpec, fold: int, deadline: FoldClock | float) -> Future:
        time.sleep(self.wait_s)
        return super().submit(spec, fold, deadline)


def _table(tmp_path) -> WorkerData:
    X, y = make_friedman1(n_samples=400, n_features=6, noise=1.0, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)])
    schema = infer_schema(frame.assign(y=y), exclude=("y",))
    rows = np.random.default_rng(0).permutation(len(y))
    folds = [(np.setdiff1d(rows, part), np.sort(part)) for part in np.array_split(rows, N_FOLDS)]
    return WorkerData(schema.coerce(frame), 3.0 * y, folds, schema, "regression", 0, 0, str(tmp_path))


def _search(data: WorkerData, runner, time_limit: float, max_trials: int) -> Search:
    plan = SearchPlan("regression", RMSE, seed=0, n_rows=len(data.y), max_trials=max_trials, learners=["lightgbm"])
    search = Search(runner, plan, Budget(time_limit), y=data.y, folds=data.folds, task="regression",
                    metric=RMSE, n_classes=0)
    search.run()
    return search


def _rounds(paths: list[str]) -> list[int]:
    rounds = []
    for path in paths:
        with open(path, "rb") as handle:
            _, _, learner = pickle.load(handle)
        rounds.append(learner.rounds_used())
    return rounds


def test_folds_that_waited_to_start_are_not_cut_short_nor_kept_half_learned(tmp_path) -> None:
    calm = _table(tmp_path / "quiet")
    quiet = _search(calm, InlineRunner(calm), 8.0, max_trials=1)
    data = _table(tmp_path / "busy")
    busy = _search(data, DelayedRunner(data, WAIT_S), 8.0, max_trials=2)

    first = busy.results[0]
    # The first model is guaranteed: its later folds start 2-3 waits in, past the 1.75 s
    # (35% of the search time) a fold used to get from its submission, yet each runs to
    # its own early stop and scores exactly as on a quiet machine.
    assert first.status == "ok"
    assert first.fold_scores == pytest.approx(quiet.results[0].fold_scores, rel=1e-9)
    # Nothing kept has a fold stopped before it learned: the later trials, whose folds wait
    # past the search deadline, are skipped or complete, never kept with one round.
    for result in busy.results:
        if result.kept:
            assert min(_rounds(result.model_paths)) >= MIN_ROUNDS, result.spec.name
        else:
            assert result.status in ("skipped", "unlearned"), result.spec.name


def test_a_fold_not_started_by_its_start_by_is_skipped_not_run(tmp_path) -> None:
    initialize(_table(tmp_path))
    spec = TrialSpec(0, "lightgbm", {"num_leaves": 7}, "portfolio")

    late = run_fold(spec, 0, FoldClock(seconds=60.0, end=time.time() + 60, start_by=time.time() - 1.0))
    on_time = run_fold(spec, 0, FoldClock(seconds=60.0, end=time.time() + 60, start_by=time.time() + 60))

    assert late.skipped and late.prediction is None and late.model_path is None
    assert not on_time.skipped and not on_time.stopped_by_deadline and on_time.rounds >= MIN_ROUNDS


def test_a_fold_clock_counts_from_the_start_and_never_passes_its_end() -> None:
    clock = FoldClock(seconds=3.0, end=100.0)

    assert clock.deadline(started=50.0) == 53.0
    assert clock.deadline(started=98.0) == 100.0


def _fold(fold: int, prediction: np.ndarray, *, stopped: bool, rounds: int | None) -> FoldResult:
    return FoldResult(0, fold, prediction, 0.1, 0.01, f"fold_{fold}.pkl", stopped_by_deadline=stopped,
                      rounds=rounds)


def _finish(folds: list[FoldResult], y: np.ndarray, splits) -> TrialResult:
    plan = SearchPlan("regression", RMSE, seed=0, n_rows=len(y), learners=["lightgbm"])
    search = Search(InlineRunner.__new__(InlineRunner), plan, Budget(10.0), y=y, folds=splits, task="regression",
                    metric=RMSE, n_classes=0)
    search._finish(TrialSpec(0, "lightgbm", {}, "portfolio"), folds)
    return search.results[0]


@pytest.mark.parametrize(("stopped", "rounds", "noise", "status"), [
    (True, 1, 0.1, "unlearned"),  # one round: not a model, however its fold scored
    (True, MIN_ROUNDS - 1, 0.1, "unlearned"),
    (True, MIN_ROUNDS, 0.1, "truncated"),  # stopped, but it had learned
    (True, None, 50.0, "unlearned"),  # stopped no better than predicting the mean
    (False, 1, 0.1, "ok"),  # early stopping chose one round: the model's own choice
])
def test_a_trial_stopped_before_it_learned_is_marked_unlearned_and_not_kept(stopped, rounds, noise, status) -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(0.0, 10.0, 90)
    rows = np.arange(90)
    splits = [(np.setdiff1d(rows, part), part) for part in np.array_split(rows, 3)]
    folds = [_fold(k, y[val] + rng.normal(0.0, noise, len(val)), stopped=stopped and k == 2, rounds=rounds)
             for k, (_, val) in enumerate(splits)]

    result = _finish(folds, y, splits)

    assert result.status == status
    assert result.kept == (status in ("ok", "truncated"))
    if status == "unlearned":
        assert "fold 2" in result.error


class RecordingRunner(InlineRunner):
    """The inline runner, noting which folds it ran (not the ones its twin had claimed)."""

    def __init__(self, data: WorkerData) -> None:
        super().__init__(data)
        self.ran: list[int] = []
        self.duplicates: list[int] = []

    def submit(self, spec: TrialSpec, fold: int, deadline: FoldClock | float) -> Future:
        future = super().submit(spec, fold, deadline)
        (self.duplicates if future.result().duplicate else self.ran).append(fold)
        return future


def test_the_first_trials_folds_go_to_both_runners_and_each_runs_once(tmp_path) -> None:
    data = _table(tmp_path)
    first, pool = RecordingRunner(data), RecordingRunner(data)
    plan = SearchPlan("regression", RMSE, seed=0, n_rows=len(data.y), max_trials=1, learners=["lightgbm"])
    search = Search(pool, plan, Budget(8.0), y=data.y, folds=data.folds, task="regression", metric=RMSE,
                    n_classes=0, first_runner=first, claims=str(tmp_path / "claims"))
    search.run()

    # The first runner starts first and claims every fold here (inline runners finish at
    # once); the pool's twins return as duplicates, never run, never counted as results.
    assert sorted(first.ran + pool.ran) == list(range(N_FOLDS))
    assert sorted(first.duplicates + pool.duplicates) == list(range(N_FOLDS))
    assert [r.status for r in search.results] == ["ok"] and len(search.results[0].fold_scores) == N_FOLDS
    assert len(set(search.results[0].model_paths)) == N_FOLDS


def test_a_fold_another_runner_claimed_is_not_run(tmp_path) -> None:
    initialize(_table(tmp_path))
    spec = TrialSpec(0, "lightgbm", {"num_leaves": 7}, "portfolio")
    claim = tmp_path / "trial0_fold0"
    clock = FoldClock(seconds=60.0, end=time.time() + 60, claim=str(claim))

    ran, twin = run_fold(spec, 0, clock), run_fold(spec, 0, clock)

    assert claim.exists() and ran.prediction is not None and not ran.duplicate
    assert twin.duplicate and twin.prediction is None and twin.model_path is None


def test_the_guaranteed_first_model_stops_at_its_end_not_past_the_limit(tmp_path) -> None:
    data = _table(tmp_path)
    plan = SearchPlan("regression", RMSE, seed=0, n_rows=len(data.y), max_trials=1, learners=["lightgbm"])
    # Training passes the limit less the report's and bundle's time; here an end already
    # reached: the first model's boosters stop at their first deadline check (they used
    # to run on to their early stop, up to twice the limit).
    search = Search(InlineRunner(data), plan, Budget(8.0), y=data.y, folds=data.folds, task="regression",
                    metric=RMSE, n_classes=0, first_runner=InlineRunner(data), claims=str(tmp_path / "claims"),
                    first_model_end=time.time())
    search.run()

    assert [r.status for r in search.results] == ["unlearned"]
    assert "stopped by the deadline" in search.results[0].error
