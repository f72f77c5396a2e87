"""Run fold tasks as Ray tasks on a cluster (`--ray auto|local|ADDRESS`).

Ray is the engine: its scheduler places each fold task on a free CPU anywhere in the
cluster, its object store carries the training data to each node once, and it retries
a task whose worker process died, once. kiln adds only the glue the search engine
expects of a runner (`submit` returning a `concurrent.futures.Future`, `close`,
`n_workers`), so the engine and its deadlines are the same as on one machine.

Two things differ from the local pool, both because a worker's node is not the
driver's machine:

- fold models come back through the object store as bytes and are written to the
  driver's scratch folder; a path on the worker's disk would mean nothing here;
- a fold's time counts from when it starts on its node, but the end of the search is
  an absolute `time.time()` value, so node clocks are assumed to agree to well under a
  second (NTP).

Ray is imported only here and only when `--ray` is given: `kiln --help` stays fast.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
from concurrent.futures import Future
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from kiln.errors import InvalidOptionError, KilnError
from kiln.optional import require
from kiln.search.runner import WORKER_ENV, default_workers
from kiln.search.trial import FoldClock, FoldResult, TrialSpec
from kiln.search.worker import WorkerData, initialize, run_fold

RAY_EXTRA = "kiln-ml[ray]"
CONNECT_TIMEOUT_S = 5.0  # a wrong address fails in seconds, not after Ray's minute-long retries
TASK_OPTIONS = {"num_cpus": 1, "max_retries": 1, "retry_exceptions": False,
                "runtime_env": {"env_vars": WORKER_ENV}}

# Inside a Ray worker process: the object id of the training data it holds and that
# data, so it is fetched and unpacked once per worker, not once per task.
_LOADED: str | None = None
_HELD: WorkerData | None = None


def import_ray() -> Any:
    """Ray, or a MissingDependencyError naming the extra to install."""
    return require("ray", purpose="Trials on a Ray cluster (--ray)", package=RAY_EXTRA)


class RayRunner:
    """Fold tasks on a Ray cluster; the same three members as `LocalRunner`.

    `address` is "auto" (the cluster this machine belongs to, or RAY_ADDRESS), "local"
    (start a private Ray here, for trying it out), "HOST:PORT" of a head node, or
    "ray://HOST:10001" (Ray Client). A connection this process already has is reused
    and left open; one kiln opened is closed by `close`.

    With `warm_up_s`, one warm-up task per CPU loads the data and the learner modules
    before the search starts, waiting at most that long: a cold Ray worker takes
    seconds to start, which would otherwise come out of the first trials' fold time.
    """

    def __init__(self, data: WorkerData, address: str, *, warm_up_s: float = 0.0) -> None:
        ray = import_ray()
        self._ray = ray
        self._owns_connection = not ray.is_initialized()
        if self._owns_connection:
            _connect(ray, address)
        self.n_workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._scratch = Path(data.scratch)
        self._data_ref = ray.put(data)
        self._task = ray.remote(**TASK_OPTIONS)(_fold_task)
        self._running: set[Any] = set()
        self._lock = threading.Lock()
        if warm_up_s > 0:
            self._warm_up(warm_up_s)

    def _warm_up(self, seconds: float) -> None:
        """Start the workers; a worker that cannot run kiln (not installed on its node, another
        version) is a KilnError now, rather than every trial failing later."""
        warm = self._ray.remote(**TASK_OPTIONS)(_warm_task)
        refs = [warm.remote([self._data_ref]) for _ in range(self.n_workers)]
        ready, late = self._ray.wait(refs, num_returns=len(refs), timeout=seconds)
        for ref in late:  # a busy cluster: leave the rest to the fold tasks
            self._ray.cancel(ref)
        try:
            self._ray.get(ready)
        except self._ray.exceptions.RayTaskError as exc:
            self.close(kill=True)
            cause = (str(exc.cause) or type(exc.cause).__name__).strip().splitlines()[-1]
            raise KilnError(f"A Ray worker cannot run kiln's trials ({cause}). Install the same kiln and "
                            f"libraries on every node: pip install '{RAY_EXTRA}'.") from None

    def submit(self, spec: TrialSpec, fold: int, deadline: FoldClock | float) -> Future:
        # The ref travels inside a list so Ray does not resolve it per task: the worker
        # fetches it only when it does not hold that data yet.
        ref = self._task.remote([self._data_ref], spec, fold, deadline)
        with self._lock:
            self._running.add(ref)
        out: Future = Future()
        ref.future().add_done_callback(partial(self._deliver, ref, spec, fold, out))
        return out

    def _deliver(self, ref: Any, spec: TrialSpec, fold: int, out: Future, done: Future) -> None:
        """Write the fold model where the driver reads it, then complete `out`.

        A task that failed for good (its worker died twice) completes `out` with Ray's
        exception; the engine counts that trial as lost.
        """
        with self._lock:
            self._running.discard(ref)
        try:
            result, model = done.result()
            if model is not None:
                path = self._scratch / spec.name / f"fold_{fold}.pkl"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(model)
                result.model_path = str(path)
        except BaseException as exc:
            out.set_exception(exc)
        else:
            out.set_result(result)

    def close(self, *, kill: bool = False) -> None:
        """Release the data; with `kill`, cancel the tasks still queued or running."""
        if kill:
            with self._lock:
                running = list(self._running)
            for ref in running:
                self._ray.cancel(ref, force=True)
        self._data_ref = None
        if self._owns_connection:
            self._ray.shutdown()


def _fold_task(data_box: list, spec: TrialSpec, fold: int,
               deadline: FoldClock | float) -> tuple[FoldResult, bytes | None]:
    """The Ray task: one fold of one trial; returns the result and the pickled fold model.

    The fold model is written to a scratch folder of this task's own (the worker module
    writes to `data.scratch`, the object `initialize` keeps) and removed once read, so
    workers leave nothing behind on their node.
    """
    data = _hold(data_box)
    data.scratch = tempfile.mkdtemp(prefix="kiln-ray-")
    try:
        result = run_fold(spec, fold, deadline)
        model = Path(result.model_path).read_bytes() if result.model_path is not None else None
    finally:
        shutil.rmtree(data.scratch, ignore_errors=True)
    return result, model


def _warm_task(data_box: list) -> None:
    """Start-up work of a worker, done before the search: the data and the learner modules."""
    from kiln.learners.registry import all_learners

    _hold(data_box)
    all_learners()


def _hold(data_box: list) -> WorkerData:
    """Make this worker hold the data in `data_box`, fetching it only if it holds other data."""
    global _LOADED, _HELD
    import ray

    ref = data_box[0]
    if ref.hex() != _LOADED or _HELD is None:
        _HELD = replace(ray.get(ref))  # this worker's own copy: its scratch changes per task
        initialize(_HELD)
        _LOADED = ref.hex()
    return _HELD


def _connect(ray: Any, address: str) -> None:
    """`ray.init` quietly; an address nobody answers at is an InvalidOptionError in seconds."""
    options: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False,
                               "ignore_reinit_error": True}
    if address == "local":
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        options.update(num_cpus=default_workers(), include_dashboard=False)
    else:
        address = _reachable(address)
    try:
        ray.init(address=address, **options)
    except Exception as exc:  # wrong token, version mismatch, a node that went away: all mean "cannot connect"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidOptionError(f"--ray {address}: Ray could not connect ({first}). {_ADVICE}") from None


_ADVICE = ("Start a cluster with `ray start --head` and pass its HOST:PORT, use --ray auto on a cluster node, "
           "or --ray local to start Ray on this machine.")


def _reachable(address: str) -> str:
    """The address to give `ray.init`, after checking that something listens there."""
    if address.startswith("ray://"):
        host_port = address.removeprefix("ray://").split("/", 1)[0]
        _check_port(address, host_port)
        return address
    try:
        from ray._private.services import canonicalize_bootstrap_address_or_die
    except ImportError:  # a private helper that moved: let ray.init resolve the address itself
        return address
    try:
        resolved = canonicalize_bootstrap_address_or_die(address)
    except ConnectionError as exc:
        raise InvalidOptionError(f"--ray {address}: {str(exc).splitlines()[0]} {_ADVICE}") from None
    except ValueError:
        raise InvalidOptionError(f"--ray {address!r} is not an address; use auto, local, HOST:PORT or "
                                 "ray://HOST:PORT.") from None
    _check_port(address, resolved)
    return resolved


def _check_port(given: str, host_port: str) -> None:
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise InvalidOptionError(f"--ray {given!r} is not an address; use auto, local, HOST:PORT or "
                                 "ray://HOST:PORT.")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InvalidOptionError(f"--ray {given}: nothing answers at {host_port} ({reason}). {_ADVICE}") from None
