"""Run fold tasks in a local process pool (loky, shipped with joblib).

One process per core, one thread per model: on small machines parallel trials beat
threading one model. A task past its deadline is not waited for: `close(kill=True)`
ends the workers. The Ray runner (for clusters) offers the same three methods.
"""

from __future__ import annotations

import os
from concurrent.futures import Future
from typing import Any

from kiln.search.trial import TrialSpec
from kiln.search.worker import WorkerData, initialize, run_fold

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

    def submit(self, spec: TrialSpec, fold: int, deadline: float) -> Future:
        future: Future = Future()
        future.set_result(run_fold(spec, fold, deadline))
        return future

    def close(self, *, kill: bool = False) -> None:
        """Nothing to stop."""


class LocalRunner:
    """A pool of worker processes that each hold the training data."""

    def __init__(self, data: WorkerData, n_workers: int | None = None) -> None:
        from joblib.externals.loky import ProcessPoolExecutor

        self.n_workers = n_workers or default_workers()
        self._pool: Any = ProcessPoolExecutor(max_workers=self.n_workers, initializer=initialize,
                                              initargs=(data,), env=WORKER_ENV)

    def submit(self, spec: TrialSpec, fold: int, deadline: float) -> Future:
        return self._pool.submit(run_fold, spec, fold, deadline)

    def close(self, *, kill: bool = False) -> None:
        """Stop the pool; with `kill`, end running tasks instead of waiting."""
        self._pool.shutdown(wait=not kill, kill_workers=kill)
