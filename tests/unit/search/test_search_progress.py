"""The search tells which trials are in progress while their folds run, not only when they end.

`GatedRunner` runs the real worker code in a thread, but each fold starts only once the test
opens the gate; so while the gate is shut, the trial is sent and unfinished, and the search
must have said so.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

import numpy as np
import pandas as pd
from sklearn.datasets import make_friedman1

from kiln.data.schema import infer_schema
from kiln.evaluation.metrics import get_metric
from kiln.search.budget import Budget
from kiln.search.engine import Search
from kiln.search.plan import SearchPlan
from kiln.search.runner import InlineRunner
from kiln.search.trial import FoldClock, TrialProgress, TrialSpec
from kiln.search.worker import WorkerData, run_fold

RMSE = get_metric("rmse", "regression")
N_FOLDS = 3


class GatedRunner(InlineRunner):
    """Folds run in threads, each after the gate opens."""

    def __init__(self, data: WorkerData) -> None:
        super().__init__(data)
        self.gate = threading.Event()

    def submit(self, spec: TrialSpec, fold: int, deadline: FoldClock | float) -> Future:
        future: Future = Future()

        def work() -> None:
            self.gate.wait(60)
            future.set_result(run_fold(spec, fold, deadline))

        threading.Thread(target=work, daemon=True).start()
        return future


def _data(tmp_path) -> WorkerData:
    X, y = make_friedman1(n_samples=300, n_features=5, noise=1.0, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    schema = infer_schema(frame.assign(y=y), exclude=("y",))
    rows = np.random.default_rng(0).permutation(len(y))
    folds = [(np.setdiff1d(rows, part), np.sort(part)) for part in np.array_split(rows, N_FOLDS)]
    return WorkerData(schema.coerce(frame), y, folds, schema, "regression", 0, 0, str(tmp_path))


def test_the_search_names_the_trial_in_progress_before_it_finishes(tmp_path) -> None:
    data = _data(tmp_path)
    runner = GatedRunner(data)
    told: list[list[TrialProgress]] = []
    finished: list[str] = []

    def on_running(trials: list[TrialProgress]) -> None:
        told.append(trials)
        runner.gate.set()  # the display has heard of the trial: let its folds run

    plan = SearchPlan("regression", RMSE, seed=0, n_rows=len(data.y), max_trials=1, learners=["lightgbm"])
    search = Search(runner, plan, Budget(20.0), y=data.y, folds=data.folds, task="regression", metric=RMSE,
                    n_classes=0, on_trial=lambda result, results: finished.append(result.spec.name),
                    on_running=on_running)
    search.run()
    assert told[0] == [TrialProgress("lightgbm_0", 0, N_FOLDS)]  # told while no fold had run
    assert finished == ["lightgbm_0"] and search.results[0].kept
    assert told[-1] == []  # and told when nothing runs any more
    done = [t[0].folds_done for t in told if t]
    assert done == sorted(done) and set(done) <= set(range(N_FOLDS))  # folds counted up as they ended
