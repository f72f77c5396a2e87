"""Run fold tasks in a local process pool (loky, shipped with joblib).

One process per core, one thread per model: on small machines parallel trials beat
threading one model. A task past its deadline is not waited for: `close(kill=True)`
ends the workers. The Ray runner (for clusters) offers the same three methods.

The pool starts before the data is read (`LocalRunner.warm`): a cold worker spends
seconds importing pandas, scikit-learn and LightGBM, many more on a busy machine, and
that now happens while the parent reads and checks the data. `attach` then writes the
data once to the scratch folder; each worker reads it on its first task.
"""

from __future__ import annotations

import os
import pickle
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from kiln.search.trial import FoldClock, TrialSpec
from kiln.search.worker import WorkerData, initialize, ready, run_fold, run_fold_from, warm_up

WORKER_ENV = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "passive", "MKL_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1"}


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 32))


class InlineRunner:
    """Run fold tasks one by one in this process (`n_jobs=1`): no pool to start, easy
    to debug; the deadline is honoured only cooperatively (booster callbacks, chunked
    forests), since nothing can end a running task from outside."""

    n_workers = 1

    def __init__(self, data: WorkerData) -> None:
        initialize(data)

    def submit(self, spec: TrialSpec, fold: int, deadline: FoldClock | float) -> Future:
        future: Future = Future()
        future.set_result(run_fold(spec, fold, deadline))
        return future

    def close(self, *, kill: bool = False) -> None:
        """Nothing to stop."""


# What a cold worker imports before its first fold (the first family's library included).
WARM_MODULES = ("kiln.prep.build", "kiln.learners.registry", "sklearn.model_selection", "lightgbm")
DATA_FILE = "worker_data.pkl"


class ThreadRunner:
    """Fold tasks in one thread of this process, for the guaranteed first trial.

    A cold worker process spends seconds importing pandas, scikit-learn and LightGBM
    (30 s and more on a saturated machine, measured); this process has most of them
    loaded already, so the first model is started here while the pool's workers start.
    Boosters release the GIL while they fit; the search's polling loop goes on. The
    thread is a daemon: a fold still running when training ends (a linear fit has no
    deadline check) does not hold up the process's exit, as an executor's thread would.
    """

    n_workers = 1

    def __init__(self, data: WorkerData) -> None:
        import queue
        import threading

        initialize(data)
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._work, name="kiln-first-model", daemon=True).start()

    def _work(self) -> None:
        while (task := self._tasks.get()) is not None:
            future, args = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(run_fold(*args))
            except BaseException as exc:  # handed to the search, as a pool would
                future.set_exception(exc)

    def submit(self, spec: TrialSpec, fold: int, deadline: FoldClock | float) -> Future:
        future: Future = Future()
        self._tasks.put((future, (spec, fold, deadline)))
        return future

    def close(self, *, kill: bool = False) -> None:
        """Stop taking tasks (with `kill`, cancel the queued ones); a running fold ends by its own clock."""
        import queue

        if kill:
            while True:
                try:
                    task = self._tasks.get_nowait()
                except queue.Empty:
                    break
                if task is not None:
                    task[0].cancel()
        self._tasks.put(None)


class LocalRunner:
    """A pool of worker processes that each hold the training data."""

    def __init__(self, data: WorkerData | None = None, n_workers: int | None = None, *,
                 warm: tuple[str, ...] = WARM_MODULES) -> None:
        from joblib.externals.loky import ProcessPoolExecutor

        self.n_workers = n_workers or default_workers()
        self._pool: Any = ProcessPoolExecutor(max_workers=self.n_workers, initializer=warm_up,
                                              initargs=(warm,), env=WORKER_ENV)
        for _ in range(self.n_workers):  # start every worker now, not at the first fold
            self._pool.submit(ready)
        self._data_path: str | None = None
        self._closed = False
        if data is not None:
            self.attach(data)

    def attach(self, data: WorkerData) -> LocalRunner:
        """Give the workers the training data: one pickle in the run's scratch folder."""
        path = Path(data.scratch) / DATA_FILE
        partial = path.with_suffix(".partial")
        with partial.open("wb") as handle:
            pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(path)
        self._data_path = str(path)
        return self

    def submit(self, spec: TrialSpec, fold: int, deadline: FoldClock | float) -> Future:
        if self._data_path is None:
            raise RuntimeError("LocalRunner.submit before attach(data)")
        return self._pool.submit(run_fold_from, self._data_path, spec, fold, deadline)

    def close(self, *, kill: bool = False, wait: bool | None = None) -> None:
        """Stop the pool (once); with `kill`, end running tasks instead of waiting for them;
        `wait=False` without `kill` returns at once and lets queued tasks finish."""
        if not self._closed:
            self._closed = True
            self._pool.shutdown(wait=not kill if wait is None else wait, kill_workers=kill)
