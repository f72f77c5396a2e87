"""Trials on a real Ray cluster: `kiln train --ray`, on a head node and a worker node of one CPU each.

The cluster is started with `ray start`, as a user would, each node in a process group
of its own; teardown kills exactly those groups and the workers their raylets spawned.
Not `ray stop --force`: it ends every Ray on the machine, other people's included.

Ray drivers (kiln) run in subprocesses with the cluster's environment: its own
authentication token (recent Ray enables token auth by default), and no Ray state
left in the test process.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

import kiln
from kiln.errors import InvalidOptionError, MissingDependencyError

RAY = Path(sys.executable).with_name("ray")
KILN = Path(sys.executable).with_name("kiln")
FOLD_TASK = "ray::_fold_task"  # the process title of a Ray worker running a fold


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@dataclass
class RayCluster:
    """A local cluster started by `ray start`; `groups` are the process groups it lives in."""

    address: str
    env: dict[str, str]
    groups: list[int] = field(default_factory=list)
    _raylets: list[psutil.Process] = field(default_factory=list)

    def processes(self) -> list[psutil.Process]:
        """Every process of this cluster: its groups' members and their children (the workers)."""
        found: dict[int, psutil.Process] = {}
        for process in psutil.process_iter():
            try:
                if os.getpgid(process.pid) in self.groups:
                    found[process.pid] = process
                    for child in process.children(recursive=True):
                        found[child.pid] = child
            except (psutil.Error, ProcessLookupError):
                continue
        return list(found.values())

    def fold_workers(self) -> list[psutil.Process]:
        """Worker processes running a fold now: children of this cluster's raylets, by their title."""
        if not self._raylets:
            self._raylets = [p for p in self.processes() if p.name() == "raylet"]
        running = []
        for raylet in self._raylets:
            for process in raylet.children():
                with contextlib.suppress(psutil.Error):
                    if process.cmdline()[:1] and process.cmdline()[0].startswith(FOLD_TASK):
                        running.append(process)
        return running

    def stop(self) -> None:
        processes = self.processes()
        for group in self.groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGTERM)
        _, alive = psutil.wait_procs(processes, timeout=5)
        for process in alive:
            with contextlib.suppress(psutil.Error):
                process.kill()


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayCluster]:
    port, client, agent_head, agent_worker = _free_ports(4)
    temp = tempfile.mkdtemp(prefix="kr", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    token = Path(temp) / "auth_token"
    token.write_text(secrets.token_hex(32))
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
    env.pop("RAY_ADDRESS", None)
    cluster = RayCluster("", env)
    memory = str(200 * 1024 * 1024)
    try:
        output = _ray_start(cluster, "--head", f"--port={port}", f"--ray-client-server-port={client}",
                            "--num-cpus=1", "--include-dashboard=false", f"--dashboard-agent-listen-port={agent_head}",
                            f"--temp-dir={temp}", f"--object-store-memory={memory}")
        # The address Ray advertises (its node IP), as `ray start` prints it for the other nodes.
        cluster.address = re.search(r"ray start --address='([^']+)'", output).group(1)  # type: ignore[union-attr]
        _ray_start(cluster, f"--address={cluster.address}", "--num-cpus=1",
                   f"--dashboard-agent-listen-port={agent_worker}", f"--object-store-memory={memory}")
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(temp, ignore_errors=True)


def _ray_start(cluster: RayCluster, *args: str) -> str:
    """`ray start ARGS` in a new session, whose id is the process group its daemons stay in."""
    process = subprocess.Popen([str(RAY), "start", "--disable-usage-stats", *args], start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=cluster.env)
    cluster.groups.append(process.pid)  # before anything can fail: teardown stops what did start
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output[-3000:]
    return output


def _table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(5)])
    frame["kind"] = rng.choice(["a", "b", "c"], size=n)
    signal_ = x[:, 0] + 0.5 * x[:, 1] - (frame["kind"] == "b") + rng.normal(scale=0.7, size=n)
    frame["y"] = np.where(signal_ > 0, "yes", "no")
    return frame


@pytest.fixture(scope="module")
def table_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ray_data") / "table.csv"
    _table().to_csv(path, index=False)
    return path


def _train_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(KILN), "train", *args, "--quiet"], cwd=cwd, capture_output=True, text=True,
                          timeout=180, env=env)


def _lost_line(stdout: str) -> int:
    lines = [line for line in stdout.splitlines() if line.startswith("trials lost to dead workers: ")]
    assert len(lines) == 1, stdout
    return int(lines[0].rsplit(" ", 1)[1])


def test_train_on_a_ray_cluster_writes_a_bundle_that_predicts(ray_cluster: RayCluster, table_file: Path,
                                                              tmp_path: Path) -> None:
    # --max-trials ends the search; the generous limit only keeps a loaded machine from cutting it short
    process = _train_cli(str(table_file), "--target", "y", "--time-limit", "60", "--max-trials", "4",
                         "--ray", ray_cluster.address, "--out", str(tmp_path / "bundle"), cwd=tmp_path,
                         env=ray_cluster.env)
    assert process.returncode == 0, process.stdout[-2000:] + process.stderr[-3000:]
    assert _lost_line(process.stdout) == 0
    model = kiln.load(tmp_path / "bundle")
    assert model.manifest["training"]["trials_lost_to_workers"] == 0
    assert model.manifest["training"]["trials"] == 4
    frame = _table(50, seed=1)
    assert set(model.predict(frame.drop(columns="y"))) <= {"yes", "no"}


SAME_RESULTS = """
import sys
from pathlib import Path

import kiln
from test_ray import _table

frame = _table(300, seed=2)
options = {"target": "y", "time_limit": 120, "max_trials": 6, "n_jobs": 2, "seed": 3, "quiet": True}
new = _table(60, seed=4).drop(columns="y")
out = Path(sys.argv[2])
for name, ray in (("local", None), ("ray", sys.argv[1])):
    model = kiln.train(frame, ray=ray, **options)
    model.leaderboard().to_csv(out / f"{name}_leaderboard.csv", index=False)
    model.predict_proba(new).to_csv(out / f"{name}_proba.csv", index=False)
"""


def test_a_ray_cluster_and_the_local_pool_give_the_same_leaderboard(ray_cluster: RayCluster,
                                                                    tmp_path: Path) -> None:
    """Same seed, no time-outs: the same trials, scores and predictions whichever runner ran them."""
    process = subprocess.run([sys.executable, "-c", SAME_RESULTS, ray_cluster.address, str(tmp_path)],
                             cwd=Path(__file__).parent, env=ray_cluster.env, capture_output=True, text=True,
                             timeout=300)
    assert process.returncode == 0, process.stdout[-2000:] + process.stderr[-3000:]
    board_local, board_ray = (pd.read_csv(tmp_path / f"{name}_leaderboard.csv") for name in ("local", "ray"))
    assert list(board_ray["model"]) == list(board_local["model"])
    np.testing.assert_allclose(board_ray["score"], board_local["score"], rtol=0, atol=1e-9)
    assert (board_ray["status"] == "ok").all() and len(board_ray) == 7  # six trials and the ensemble
    proba_local, proba_ray = (pd.read_csv(tmp_path / f"{name}_proba.csv") for name in ("local", "ray"))
    np.testing.assert_allclose(proba_ray.to_numpy(), proba_local.to_numpy(), rtol=0, atol=1e-6)


def test_a_killed_worker_loses_no_trial(ray_cluster: RayCluster, table_file: Path,
                                                      tmp_path: Path) -> None:
    """One worker is killed mid-search: Ray retries its task elsewhere, so no trial is lost."""
    killed: list[int] = []
    stop = threading.Event()

    def kill_one_fold_worker() -> None:
        while not stop.is_set() and not killed:
            for process in ray_cluster.fold_workers():
                try:
                    process.kill()
                except psutil.Error:
                    continue
                killed.append(process.pid)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_fold_worker, daemon=True)
    killer.start()
    time_limit = 30
    try:
        process = _train_cli(str(table_file), "--target", "y", "--time-limit", str(time_limit),
                             "--max-trials", "8", "--ray", ray_cluster.address,
                             "--out", str(tmp_path / "bundle"), cwd=tmp_path,
                             env=ray_cluster.env)
    finally:
        stop.set()
        killer.join()
    assert killed, "no fold worker was seen running"
    assert process.returncode == 0, process.stdout[-2000:] + process.stderr[-3000:]
    model = kiln.load(tmp_path / "bundle")
    assert model.manifest["training"]["seconds"] <= time_limit  # kiln's own budget accounting held
    assert _lost_line(process.stdout) == model.manifest["training"]["trials_lost_to_workers"] == 0  # retried
    assert len(model.predict(_table(20, seed=5).drop(columns="y"))) == 20


def test_an_unreachable_address_is_a_one_line_error(table_file: Path, tmp_path: Path) -> None:
    (port,) = _free_ports(1)
    process = _train_cli(str(table_file), "--target", "y", "--ray", f"127.0.0.1:{port}", cwd=tmp_path)
    assert process.returncode == 2
    assert process.stderr.startswith("error: --ray 127.0.0.1:") and len(process.stderr.strip().splitlines()) == 1


def test_without_the_extra_ray_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"kiln-ml\[ray\]"):
        kiln.train(_table(40), target="y", ray="auto", quiet=True)


def test_an_empty_ray_address_is_refused() -> None:
    with pytest.raises(InvalidOptionError, match="--ray needs an address"):
        kiln.train(_table(40), target="y", ray=" ", quiet=True)


def test_the_search_counts_a_lost_fold_and_keeps_the_rest() -> None:
    """The engine's side, without Ray: a fold whose future fails loses its trial, not the run."""
    from kiln.evaluation.metrics import get_metric
    from kiln.search.budget import Budget
    from kiln.search.engine import Search
    from kiln.search.trial import FoldResult, TrialSpec

    y = np.array([0, 1] * 10)
    folds = [(np.arange(10, 20), np.arange(10)), (np.arange(10), np.arange(10, 20))]

    class Plan:
        exhausted = False

        def __init__(self) -> None:
            self.specs = [TrialSpec(i, "linear", {}, "portfolio") for i in range(3)]
            self.told: list[int] = []

        def next_trial(self) -> TrialSpec | None:
            if not self.specs:
                self.exhausted = True
                return None
            return self.specs.pop(0)

        def report(self, result) -> None:
            self.told.append(result.spec.trial_id)

    class LosingRunner:
        n_workers = 2
        killed: bool | None = None

        def submit(self, spec: TrialSpec, fold: int, deadline: float) -> Future:
            future: Future = Future()
            if spec.trial_id == 1 and fold == 0:
                future.set_exception(RuntimeError("The worker died unexpectedly while executing this task."))
            else:
                proba = np.tile([0.4, 0.6], (len(folds[fold][1]), 1))
                future.set_result(FoldResult(spec.trial_id, fold, proba, 0.01, 0.0, None))
            return future

        def close(self, *, kill: bool = False) -> None:
            self.killed = kill

    plan, runner = Plan(), LosingRunner()
    search = Search(runner, plan, Budget(60.0), y=y, folds=folds, task="binary",  # type: ignore[arg-type]
                    metric=get_metric(None, "binary"), n_classes=2)
    results = {r.spec.trial_id: r for r in search.run()}
    assert search.lost_to_workers == 1 and search.lost_trials == 0
    assert sorted(plan.told) == [0, 1, 2]
    assert results[1].status == "failed" and results[1].error.startswith("lost: ")
    assert results[0].status == results[2].status == "ok"
    assert runner.killed is False


def test_a_trial_whose_retry_dies_too_is_lost_and_counted(ray_cluster: RayCluster, table_file: Path,
                                                          tmp_path: Path) -> None:
    """Every fold worker is killed for ten seconds, retries included: those trials are lost, the run is not.

    A retry waits for a fresh worker process (seconds), so the window must outlast a worker's start.
    """
    killed: list[int] = []
    stop = threading.Event()

    def kill_fold_workers(seconds: float) -> None:
        window_end = None
        while not stop.is_set() and (window_end is None or time.time() < window_end):
            for process in ray_cluster.fold_workers():
                with contextlib.suppress(psutil.Error):
                    process.kill()
                    killed.append(process.pid)
                    window_end = window_end or time.time() + seconds
            time.sleep(0.02)

    killer = threading.Thread(target=kill_fold_workers, args=(10.0,), daemon=True)
    killer.start()
    time_limit = 40
    try:
        process = _train_cli(str(table_file), "--target", "y", "--time-limit", str(time_limit),
                             "--ray", ray_cluster.address, "--out", str(tmp_path / "bundle"), cwd=tmp_path,
                             env=ray_cluster.env)
    finally:
        stop.set()
        killer.join()
    assert process.returncode == 0, process.stdout[-2000:] + process.stderr[-3000:]
    model = kiln.load(tmp_path / "bundle")
    assert model.manifest["training"]["seconds"] <= time_limit  # kiln's own budget accounting held
    lost = model.manifest["training"]["trials_lost_to_workers"]
    assert _lost_line(process.stdout) == lost >= 1
    board = model.leaderboard()
    assert board["error"].str.startswith("lost: ").sum() == lost
    assert len(model.predict(_table(20, seed=5).drop(columns="y"))) == 20
