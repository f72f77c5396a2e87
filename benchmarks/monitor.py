"""GET /monitor on a prediction log of 1,000,000 rows (target: under 200 ms per call).

    .venv/bin/python benchmarks/monitor.py              # ~3 minutes on 2 cores; writes the "monitor" section
    .venv/bin/python benchmarks/monitor.py --rows 100000  # a quick check (RESULTS.md is written only at 1M)

What it does, in a work folder (default /tmp/kiln-monitor-bench, KILN_HOME there, SQLite):

1. Trains a small AI4I-like model (kiln's demo generator, 5,000 rows, 15 s) and saves it as
   a bundle folder.
2. Fills `kiln_predictions` with `--rows` rows of that bundle's version (AI4I-like inputs with
   the model's own outputs, 250 rows a request) plus 20% as many of an older version, and
   labels every row of one request in ten (`kiln_feedback`, by request id), in the tables
   `ensure_tables` makes.
3. Starts a real `kiln serve` on 127.0.0.1 and times `GET /monitor` from this process: the
   first call (it also computes the per-model parts: SHAP ranks, the reference's served
   outputs), then `--calls` calls each with a `since` never asked before (so the result
   cache cannot answer: the window is sampled and assessed anew), then as many repeated
   calls (answered from the per-window cache). Beside each wall time, the CPU time the
   server process spent on the call (from /proc), which other load does not inflate.
4. Writes the `monitor` section of benchmarks/RESULTS.md with the date and the commit.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx
from sections import write_section

TARGET_MS = 200
MODES = ["TWF", "HDF", "PWF", "OSF", "RNF"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--work", type=Path, default=Path("/tmp/kiln-monitor-bench"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    bundle = _bundle(args.work)
    database, marker = args.work / "kiln.db", args.work / "filled.json"
    started = time.perf_counter()
    if marker.exists() and json.loads(marker.read_text())["rows"] == args.rows:  # kept from the last run
        name, version = json.loads(marker.read_text())["model"]
    else:
        database.unlink(missing_ok=True)
        marker.unlink(missing_ok=True)
        name, version = _fill(database, bundle, args.rows)
        marker.write_text(json.dumps({"rows": args.rows, "model": [name, version]}))
    fill_s = time.perf_counter() - started
    load = os.getloadavg()[0]
    first, uncached, cached, answer, cpu = _time_monitor(args.work, bundle, args.calls)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    median = statistics.median(uncached)
    body = "\n".join([
        "## `GET /monitor` on a large prediction log",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d} at commit `{commit}` by `benchmarks/monitor.py` "
        f"on this 2-core machine (SQLite, one `kiln serve` worker), 1-minute load average before the run "
        f"{load:.1f} (other work was running: wall times are inflated by it; the server's own CPU time per call "
        "is given beside them).",
        "",
        f"Log: {args.rows:,} rows of the served version `{version}` of `{name}` and {args.rows // 5:,} of an older "
        f"version; one request in ten labelled. The answer reports "
        f"{answer['rows']:,} rows in the window, statistics on an even sample of {answer['sampled']:,}, "
        f"{answer['labelled']:,} of them labelled, and the previous version's window "
        f"({(answer.get('previous') or {}).get('rows', 0):,} rows) beside it.",
        "",
        "| call | wall ms | server CPU ms |",
        "|---|---|---|",
        f"| first (also computes SHAP ranks and the reference's served outputs, once per model) | {first:.0f} | |",
        f"| a window not asked before (sample, assess), median of {len(uncached)} | {median:.0f} | "
        f"{statistics.median(cpu):.0f} |",
        f"| a window not asked before, slowest of {len(uncached)} | {max(uncached):.0f} | {max(cpu):.0f} |",
        f"| the same window again within 30 s (cached), median of {len(cached)} | {statistics.median(cached):.1f} | |",
        "",
        f"Target < {TARGET_MS} ms per call on 1,000,000 rows: wall time "
        f"{'met' if median < TARGET_MS else 'MISSED'} (median of the uncached calls after the first), "
        f"server CPU time {'met' if statistics.median(cpu) < TARGET_MS else 'MISSED'}.",
    ])
    print(body, f"\n(log ready in {fill_s:.0f} s)")
    if args.rows >= 1_000_000:
        write_section("monitor", body)


def _bundle(work: Path) -> Path:
    import kiln
    from kiln.demo.generate import generate

    path = work / "ai4i-monitor"
    if not (path / "kiln.json").exists():
        frame = generate(5_000, seed=0).drop(columns=MODES)
        model = kiln.train(frame, target="Machine failure", time_limit=15, max_trials=3, n_jobs=1, quiet=True)
        kiln.save(model, path)
    return path


def _fill(database: Path, bundle: Path, rows: int) -> tuple[str, str]:
    """The log and labels, written straight through sqlite3 into the tables kiln makes."""
    import numpy as np

    from kiln.bundle import bundle_version, load_bundle
    from kiln.demo.generate import generate
    from kiln.store.database import engine
    from kiln.store.tables import ensure_tables

    model = load_bundle(bundle)
    name, version = bundle.resolve().name, bundle_version(bundle)
    ensure_tables(engine(f"sqlite:///{database}"))
    pool = generate(20_000, seed=1).drop(columns=MODES)
    raw = model.predict_raw(pool)
    classes = [str(c) for c in model.classes_]
    features = model.schema.names
    inputs = [json.dumps({c: (v.item() if hasattr(v, "item") else v) for c, v in zip(features, values, strict=True)})
              for values in pool[features].itertuples(index=False)]
    outputs = [json.dumps({"prediction": int(p[1] >= 0.5), "probabilities": dict(zip(classes, map(float, p),
                                                                                       strict=True))}) for p in raw]
    labels = pool["Machine failure"].to_numpy()
    rng = np.random.default_rng(0)
    connection = sqlite3.connect(database)
    at = time.time() - 86_400
    for served, count in (("bundle-older000000", rows // 5), (version, rows)):
        batch, feedback = [], []
        for start in range(0, count, 250):
            request = uuid.uuid4().hex
            labelled = rng.random() < 0.1
            for row in range(min(250, count - start)):
                k = (start + row) % len(pool)
                batch.append((request, row, name, served, at, inputs[k], outputs[k]))
                if labelled:
                    feedback.append((name, request, row, None, None, str(int(labels[k])), at))
            at += 0.05
            if len(batch) >= 50_000:
                _insert(connection, batch, feedback)
                batch, feedback = [], []
        _insert(connection, batch, feedback)
    connection.close()
    return name, version


def _insert(connection: sqlite3.Connection, batch: list[tuple], feedback: list[tuple]) -> None:
    connection.executemany('INSERT INTO kiln_predictions (request_id, "row", model, version, at, inputs, outputs) '
                           "VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
    connection.executemany('INSERT INTO kiln_feedback (model, request_id, "row", id_column, "key", label, at) '
                           "VALUES (?, ?, ?, ?, ?, ?, ?)", feedback)
    connection.commit()


def _time_monitor(work: Path, bundle: Path, calls: int) -> tuple[float, list[float], list[float], dict, list[float]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kiln = str(Path(sys.executable).with_name("kiln"))
    env = {k: v for k, v in os.environ.items() if k != "KILN_DB"}
    server = subprocess.Popen([kiln, "serve", str(bundle), "--port", str(port)], env={**env, "KILN_HOME": str(work)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=120) as client:
            def timed(since: str) -> tuple[float, dict]:
                cpu, started = _cpu_ms(server.pid), time.perf_counter()
                response = client.get("/monitor", params={"since": since})
                response.raise_for_status()
                wall = (time.perf_counter() - started) * 1000
                cpu_used.append(_cpu_ms(server.pid) - cpu)
                return wall, response.json()

            cpu_used: list[float] = []
            first, answer = timed("all")
            uncached = [timed(f"{3650 + i}d")[0] for i in range(calls)]  # each a window never asked before
            uncached_cpu = cpu_used[1:]
            cached = [timed("all")[0] for _ in range(calls)]
    finally:
        server.terminate()
        server.wait(60)
    return first, uncached, cached, answer, uncached_cpu


def _cpu_ms(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), in ms: what a call costs whatever the load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
