"""Serving speed: `kiln serve` against `mlflow models serve` and `bentoml serve`, same model, same run.

    .venv/bin/python benchmarks/serving.py                 # everything, ~12 minutes
    .venv/bin/python benchmarks/serving.py --duration 2 --warmup 1 --models lightgbm   # a quick check
    .venv/bin/python benchmarks/serving.py --report-only   # re-render RESULTS.md from the saved JSON

What it does, in a work folder (default /tmp/kiln-serving-bench, KILN_HOME and KILN_DB there):

1. Trains the AI4I models once (kept between runs; `--retrain` starts over): the full
   ensemble as `kiln train --time-limit 60` gives it, and one LightGBM
   (`kiln.train(learners=["lightgbm"], max_trials=1)`: one booster refitted on all rows,
   the model the issue's reference numbers are about). Each is registered
   (`kiln.store.registry.register`) so MLflow serves the same bundle through kiln's pyfunc.
2. The floor, in this process (timed with `serving_floor.timings`): `Model.predict_raw` on a
   1-row DataFrame (the pandas path) and `FastPredictor.predict_raw` on 1 row, then both on
   a 1,000-row batch; and what a request costs minus HTTP (decode + validate, the fast path,
   the response's predictions and probabilities). The rows are the ones the servers get.
3. For each model, each server in turn (one at a time), with the same number of
   worker processes: `kiln serve` with the prediction log (the default) and with
   `--no-log-predictions`, `mlflow models serve --env-manager local`, and `bentoml serve`
   of `serving_peers/bentoml_service.py`. wrk (Debian's package) drives each from its
   own process on 127.0.0.1 with a Lua script that POSTs the server's own JSON body:
   single rows at 1, 16 and 64 connections, then 1,000-row batches at 1 and 4
   connections; each run is preceded by a warm-up run whose numbers are thrown away, and
   starts only once the server has worked off what the last run left queued.
4. py-spy (from the peers' venv) samples one `kiln serve --workers 1` process under the
   same loads and sorts its busy samples into parts (HTTP stack, dependencies, decode,
   predict, prediction-log writer...; `PROFILE_RULES`).
5. Writes `serving-results.json` in the work folder and the `serving` section of
   `benchmarks/RESULTS.md` (between its markers; the other sections are kept).

kiln serve runs from kiln's own environment (this interpreter's); the peers and py-spy run
from a venv of their own, so bentoml never becomes a dependency of kiln:

    apt-get install -y wrk
    python3 -m venv benchmarks/.venv-serve
    benchmarks/.venv-serve/bin/pip install -e . bentoml py-spy

Where wrk is not installed, `http_load.py` (an asyncio client in its own process, the same
output) drives the servers instead. `KILN_PEERS_VENV` names another peers' venv; one that has
only bentoml (e.g. `pip install bentoml` into a venv under /tmp, plus a `kiln*.pth` file naming
kiln's `src` and its venv's site-packages) serves BentoML, and `mlflow models serve` then runs
from kiln's own environment. The `kiln-nobatch` server is `kiln serve --no-batching`, for
micro-batching's effect against the default.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from sections import write_section  # noqa: E402

DATA = HERE.parent / "tests" / "data" / "ai4i2020.csv"  # the real AI4I 2020 file, shipped (CC BY 4.0)
DROPPED = ["TWF", "HDF", "PWF", "OSF", "RNF"]
TARGET = "Machine failure"
SERVE_VENV = Path(os.environ.get("KILN_PEERS_VENV", HERE / ".venv-serve"))  # the peers' own venv
LOAD_CLIENT = HERE / "http_load.py"  # the load generator where wrk is not installed
PEERS = HERE / "serving_peers"
SECTION = "serving"
BATCH_ROWS = 1_000
SINGLE_CONNECTIONS = (1, 16, 64)
BATCH_CONNECTIONS = (1, 4)
TARGET_CONNECTIONS = 16
# `kiln serve --workers N>1` passes `target=` to uvicorn's Multiprocess, which uvicorn 0.54 no
# longer takes; when it fails that way the same app is started through uvicorn's CLI instead.
LAUNCH = {"kiln_via_uvicorn": False}
MULTIPROCESS_BUG = "unexpected keyword argument 'target'"
MODELS = {  # key → (registered name, what it is)
    "ensemble": ("ai4i-ensemble", "the full ensemble of `kiln train --time-limit 60`"),
    "lightgbm": ("ai4i-lightgbm", "one LightGBM (`learners=[\"lightgbm\"], max_trials=1`)"),
}
SERVERS = {
    "kiln": "kiln serve (prediction log on)",
    "kiln-nolog": "kiln serve --no-log-predictions",
    "kiln-nobatch": "kiln serve --no-batching (prediction log on)",
    "mlflow": "mlflow models serve",
    "bentoml": "bentoml serve",
}
REFERENCE = [  # the numbers, one LightGBM model on this kind of machine
    ("in-process numpy predict", "≈ 40 µs"),
    ("in-process pandas path", "≈ 0.9 ms"),
    ("mlflow models serve, 4 clients", "p50 ≈ 8.5 ms, ~80 req/s"),
    ("bentoml serve, 4 clients", "p50 ≈ 1.3 ms, ~600 req/s"),
    ("minimal FastAPI numpy path", "p50 ≈ 0.5 ms, ~2,700 req/s"),
]

WRK_SCRIPT = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("KILN_BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()

done = function(summary, latency, requests)
  io.write(string.format(
    'KILN-BENCH {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
    .. '"max_us": %d, "mean_us": %.1f, "connect_errors": %d, "read_errors": %d, "write_errors": %d, '
    .. '"status_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout))
end
"""


# -- the models ---------------------------------------------------------------------------


def prepare_models(work: Path, keys: list[str], log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """Train (once) and register each model; returns what the report says about them."""
    csv = work / "ai4i.csv"
    if not csv.exists():
        import pandas as pd

        pd.read_csv(DATA).drop(columns=DROPPED).to_csv(csv, index=False)
    info = {}
    for key in keys:
        bundle = work / "models" / key
        if not (bundle / "kiln.json").exists():
            log(f"training the {key} model (60 s budget)")
            if key == "ensemble":
                command = [str(Path(sys.executable).with_name("kiln")), "train", str(csv), "--target", TARGET,
                           "--time-limit", "60", "--out", str(bundle), "--quiet"]
            else:
                code = ("import sys, kiln, pandas as pd; m = kiln.train(pd.read_csv(sys.argv[1]), target=sys.argv[2],"
                        " time_limit=60, learners=['lightgbm'], max_trials=1, quiet=True); kiln.save(m, sys.argv[3])")
                command = [sys.executable, "-c", code, str(csv), TARGET, str(bundle)]
            subprocess.run(command, check=True, cwd=work)
        name = MODELS[key][0]
        from kiln.store.registry import alias_version, register

        if alias_version(name, "champion") is None:
            log(f"registering {bundle} as {name}")
            register(bundle, name)
        manifest = json.loads((bundle / "kiln.json").read_text())
        members = [f"{m['name']} ({len(m['folds'])} fold model{'s' if len(m['folds']) > 1 else ''})"
                   for m in manifest["members"]]
        info[key] = {"bundle": str(bundle), "name": name, "members": members,
                     "fitted_models": sum(len(m["folds"]) for m in manifest["members"]),
                     "cv": f"{manifest['cv']['metric']} {manifest['cv']['score']:.4f}",
                     "trials": manifest["training"]["trials"]}
    return info


def sample_records(work: Path, bundle: Path, n: int) -> list[dict[str, Any]]:
    """Real AI4I rows, only the model's features, as a client would send them."""
    import pandas as pd

    schema = json.loads((bundle / "kiln.json").read_text())["schema"]
    names = [column["name"] for column in schema["columns"]]
    frame = pd.read_csv(work / "ai4i.csv").sample(n=n, random_state=0, replace=n > 10_000)
    return json.loads(frame[names].to_json(orient="records"))


# -- the floor ------------------------------------------------------------------------------


def per_call_seconds(function: Callable[[], Any], *, budget_s: float, min_calls: int = 5) -> dict[str, float]:
    """Median and 99th percentile of one call over about `budget_s` seconds of calls
    (`serving_floor.timings`, the fast-path benchmark's own timer: one warm-up call, then the runs)."""
    import numpy as np
    from serving_floor import timings

    started = time.perf_counter()
    function()
    first = max(time.perf_counter() - started, 1e-6)
    seconds = np.asarray(timings(function, int(min(max(budget_s / first, min_calls), 100_000))))
    return {"median_s": float(np.median(seconds)), "p99_s": float(np.percentile(seconds, 99)), "calls": len(seconds)}


def measure_floor(bundle: Path, records: list[dict[str, Any]], budget_s: float) -> dict[str, Any]:
    """In-process prediction times: the pandas path and the fast path, 1 row and a batch."""
    import pandas as pd

    import kiln
    from kiln.serve.decode import decode_records
    from kiln.serve.served import ServedModel

    model = kiln.load(bundle)
    one, batch = records[:1], records[:BATCH_ROWS]
    out: dict[str, Any] = {}
    frame_one, frame_batch = pd.DataFrame(one), pd.DataFrame(batch)
    out["pandas_1"] = per_call_seconds(lambda: model.predict_raw(frame_one), budget_s=budget_s)
    out["pandas_batch"] = per_call_seconds(lambda: model.predict_raw(frame_batch), budget_s=budget_s)
    try:
        from kiln.serve.fast_path import FastPredictor

        predictor = FastPredictor.compile(model)
    except Exception as exc:
        out["fast_unavailable"] = f"{type(exc).__name__}: {exc}"
        return out
    out["fast_slow_parts"] = list(getattr(predictor, "slow_parts", []))
    decoded_one = decode_records(one, model.schema)
    decoded_batch = decode_records(batch, model.schema)
    out["fast_1"] = per_call_seconds(lambda: predictor.predict_raw(decoded_one.columns, 1), budget_s=budget_s)
    out["fast_batch"] = per_call_seconds(lambda: predictor.predict_raw(decoded_batch.columns, BATCH_ROWS),
                                         budget_s=budget_s)
    # What a request costs the server besides HTTP: decode + validate, predict, format outputs.
    served = ServedModel(model, "bench", "1", str(bundle), predictor=predictor)

    def whole(rows: list[dict[str, Any]]) -> Any:
        return served.outputs(served.predict_raw(decode_records(rows, model.schema)))

    out["request_1"] = per_call_seconds(lambda: whole(one), budget_s=budget_s)
    out["request_batch"] = per_call_seconds(lambda: whole(batch), budget_s=budget_s)
    return out


# -- servers ---------------------------------------------------------------------------------


@dataclass
class Server:
    key: str
    command: list[str]
    path: str  # where predictions are POSTed
    body: Callable[[list[dict[str, Any]]], Any]
    env: dict[str, str] = field(default_factory=dict)
    startup_s: float = 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_for(key: str, model_key: str, info: dict[str, Any], port: int, workers: int) -> Server:
    kiln_bin = str(Path(sys.executable).with_name("kiln"))
    uri = f"models:/{info['name']}@champion"
    if key.startswith("kiln") and not LAUNCH["kiln_via_uvicorn"]:
        command = [kiln_bin, "serve", uri, "--port", str(port), "--workers", str(workers)]
        command += {"kiln-nolog": ["--no-log-predictions"], "kiln-nobatch": ["--no-batching"]}.get(key, [])
        return Server(key, command, "/predict", lambda rows: {"rows": rows})
    if key.startswith("kiln"):
        # What `kiln serve --workers N` runs (kiln.serve.server.run), started by uvicorn's own CLI:
        # the same app factory and settings, uvicorn's Multiprocess supervisor, a shared
        # Prometheus folder; only the SIGTERM readiness drain is missing, which costs nothing here.
        from kiln.serve.server import SETTINGS_VARIABLE
        from kiln.serve.settings import ServeSettings

        settings = ServeSettings(model=uri, log_predictions=key != "kiln-nolog", batching=key != "kiln-nobatch")
        metrics = Path(os.environ["KILN_HOME"]) / f"prometheus-{port}"
        metrics.mkdir(parents=True, exist_ok=True)
        command = [str(Path(sys.executable).with_name("uvicorn")), "kiln.serve.server:app_from_environment",
                   "--factory", "--workers", str(workers), "--host", "127.0.0.1", "--port", str(port),
                   "--log-level", "warning", "--no-access-log", "--timeout-keep-alive", "5"]
        env = {SETTINGS_VARIABLE: settings.model_dump_json(), "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
        return Server(key, command, "/predict", lambda rows: {"rows": rows}, env)
    if key == "mlflow":
        mlflow = SERVE_VENV / "bin" / "mlflow"  # else kiln's own: MLflow is one of kiln's dependencies
        mlflow = mlflow if mlflow.exists() else Path(sys.executable).with_name("mlflow")
        command = [str(mlflow), "models", "serve", "-m", uri, "--env-manager", "local",
                   "--workers", str(workers), "-p", str(port), "-h", "127.0.0.1"]
        return Server(key, command, "/invocations", lambda rows: {"dataframe_records": rows}, peer_env(mlflow))
    if key == "bentoml":
        command = [str(SERVE_VENV / "bin" / "bentoml"), "serve", "bentoml_service:KilnModel", "--working-dir",
                   str(PEERS), "--host", "127.0.0.1", "--port", str(port)]
        env = {**peer_env(SERVE_VENV / "bin" / "bentoml"), "KILN_BUNDLE": info["bundle"],
               "BENTOML_WORKERS": str(workers),
               "BENTOML_DO_NOT_TRACK": "True", "BENTOML_HOME": str(Path(os.environ["KILN_HOME"]) / "bentoml")}
        return Server(key, command, "/predict", lambda rows: {"rows": rows}, env)
    raise ValueError(key)


def peer_env(program: Path) -> dict[str, str]:
    """The venv of the peer's program, activated: MLflow starts `uvicorn` by name from PATH."""
    return {"PATH": f"{program.parent}{os.pathsep}{os.environ.get('PATH', '')}", "VIRTUAL_ENV": str(program.parents[1])}


@contextlib.contextmanager
def running(server: Server, port: int, probe: bytes, logs: Path, timeout_s: float = 180.0) -> Iterator[Any]:
    """Start the server in its own session, wait until it predicts, stop it (SIGTERM, then SIGKILL)."""
    import psutil

    log_file = (logs / f"{server.key}-{port}.log").open("wb")
    env = {**os.environ, **server.env}
    started = time.perf_counter()
    process = subprocess.Popen(server.command, stdout=log_file, stderr=subprocess.STDOUT, env=env,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{server.key} exited with {process.returncode}; see {log_file.name}")
            try:
                status, _ = post(port, server.path, probe, timeout=30)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server.key} did not answer within {timeout_s:g} s; see {log_file.name}")
            time.sleep(0.25)
        server.startup_s = time.perf_counter() - started
        time.sleep(1.0)  # every worker process up (the first answer may come from one of them)
        yield psutil.Process(process.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # our own process group: the server and its workers
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log_file.close()
        time.sleep(1.0)  # let the port and the CPU settle


def post(port: int, path: str, body: bytes, timeout: float = 60) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()[:500]


def probabilities_from(key: str, answer: Any) -> list[float]:
    """The positive-class probability of each row, from each server's own response format."""
    if key.startswith("kiln"):
        return [row["1"] for row in answer["probabilities"]]
    if key == "mlflow":
        return [row["proba_1"] for row in answer["predictions"]]
    return [row["1"] for row in answer["probabilities"]]


def tree_cpu_seconds(root: Any) -> float:
    import psutil

    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def settle(root: Any, *, idle_cores: float = 0.1, limit_s: float = 90.0) -> float:
    """Wait until the server has worked off what wrk left queued (its CPU use drops), so the
    next run does not start behind a backlog; returns the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        before = tree_cpu_seconds(root)
        time.sleep(0.5)
        if (tree_cpu_seconds(root) - before) / 0.5 < idle_cores:
            break
    return time.perf_counter() - started


def load_command(port: int, path: str, body_file: Path, script: Path, *, connections: int,
                 duration_s: float) -> list[str]:
    """wrk with the Lua script where wrk is installed, else `http_load.py` (the same output line)."""
    if shutil.which("wrk"):
        return ["wrk", "--latency", "-t", "1", "-c", str(connections), "-d", f"{duration_s:g}s", "--timeout", "30s",
                "-s", str(script), f"http://127.0.0.1:{port}{path}"]
    return [sys.executable, str(LOAD_CLIENT), "--port", str(port), "--path", path, "--body", str(body_file),
            "--connections", str(connections), "--duration", f"{duration_s:g}"]


def wrk(port: int, path: str, body_file: Path, script: Path, *, connections: int, duration_s: float,
        root: Any) -> dict[str, Any]:
    """One wrk run (one thread, keep-alive, closed loop); its numbers and the server's CPU use."""
    command = load_command(port, path, body_file, script, connections=connections, duration_s=duration_s)
    import psutil

    machine_before = psutil.cpu_times()
    cpu_before = tree_cpu_seconds(root)
    wall = time.perf_counter()
    children_before = os.times()
    env = {**os.environ, "KILN_BENCH_BODY": str(body_file)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=duration_s + 60)
    children_after = os.times()
    wall = time.perf_counter() - wall
    cpu = tree_cpu_seconds(root) - cpu_before
    machine_after = psutil.cpu_times()
    busy = sum(getattr(machine_after, k, 0) - getattr(machine_before, k, 0)
               for k in ("user", "nice", "system", "irq", "softirq", "steal"))
    line = next((x for x in done.stdout.splitlines() if x.startswith("KILN-BENCH ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    result = json.loads(line.split(" ", 1)[1])
    seconds = result["duration_us"] / 1e6
    result["requests_per_s"] = result["requests"] / seconds
    result["errors"] = sum(result[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors",
                                               "timeouts"))
    result["server_cores"] = cpu / wall  # CPU the server's processes used, in cores
    wrk_cpu = (children_after.children_user + children_after.children_system
               - children_before.children_user - children_before.children_system)
    result["wrk_cores"] = wrk_cpu / wall
    result["other_cores"] = max(0.0, busy / wall - result["server_cores"] - result["wrk_cores"])  # everyone else
    result["connections"] = connections
    return result


def measure_server(server: Server, port: int, records: list[dict[str, Any]], work: Path, args: argparse.Namespace,
                   log: Callable[[str], None]) -> dict[str, Any]:
    bodies = work / "bodies"
    bodies.mkdir(exist_ok=True)
    single = json.dumps(server.body(records[:1])).encode()
    batch = json.dumps(server.body(records[:BATCH_ROWS])).encode()
    single_file, batch_file = bodies / f"{server.key}-1.json", bodies / f"{server.key}-{BATCH_ROWS}.json"
    single_file.write_bytes(single)
    batch_file.write_bytes(batch)
    script = work / "post.lua"
    script.write_text(WRK_SCRIPT)
    out: dict[str, Any] = {"server": server.key, "single": {}, "batch": {}}
    with running(server, port, single, work / "logs") as root:
        out["startup_s"] = server.startup_s
        status, answer = post(port, server.path, batch)
        if status != 200:
            raise RuntimeError(f"{server.key}: a {BATCH_ROWS}-row batch got {status}: {answer}")
        out["batch_probabilities"] = probabilities_from(server.key, answer)
        runs = [("single", single_file, c) for c in SINGLE_CONNECTIONS]
        runs += [("batch", batch_file, c) for c in BATCH_CONNECTIONS]
        for kind, body_file, connections in runs:
            wrk(port, server.path, body_file, script, connections=connections, duration_s=args.warmup, root=root)
            settle(root)
            result = wrk(port, server.path, body_file, script, connections=connections, duration_s=args.duration,
                         root=root)
            result["settle_s"] = settle(root)
            out[kind][str(connections)] = result
            rate = result["requests_per_s"] * (BATCH_ROWS if kind == "batch" else 1)
            log(f"  {server.key:10s} {kind:6s} c={connections:<3d} p50 {result['p50_us'] / 1000:8.2f} ms  "
                f"p99 {result['p99_us'] / 1000:8.2f} ms  {rate:10,.0f} {'rows' if kind == 'batch' else 'req'}/s  "
                f"server {result['server_cores']:.2f} cores, wrk {result['wrk_cores']:.2f}, others "
                f"{result['other_cores']:.2f}  errors {result['errors']}")
        if server.key == "kiln":
            out["prediction_log"] = log_counts(port)
            log(f"  prediction log: {out['prediction_log']}")
    return out


# -- where a kiln worker's time goes ----------------------------------------------------------------

# A sample's category: the first rule (in this order) one of its frames matches.
PROFILE_RULES = [
    ("prediction-log writer thread", ("PredictionLog._run",)),
    ("alias follower thread", ("ModelHolder._follow",)),
    ("predict: the fast path", ("ServedModel.predict_raw",)),
    ("read + decode + validate the body", ("read_rows (kiln",)),
    ("outputs: labels + probability dicts", ("ServedModel.outputs",)),
    ("FastAPI's dependency resolution", ("solve_dependencies", "kiln/serve/dependencies.py")),
    ("telemetry (Prometheus, /stats)", ("Telemetry.observe",)),
    ("rest of the route (log append, orjson response)", ("predict (kiln/serve/routes/predict.py",)),
    ("HTTP + ASGI stack (uvicorn, Starlette, FastAPI)", ("uvicorn/", "starlette/", "fastapi/")),
]
IDLE_LEAVES = ("wait (threading", "select (selectors", "_wait_for_tstate_lock", "Queue.get", "Queue._get",
               "WorkerThread.run", "Event.wait")


def summarize_profile(raw: Path) -> dict[str, Any]:
    """py-spy's raw (collapsed) stacks → share of busy samples per category, and the top frames."""
    import collections
    import re

    categories: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    busy = 0
    for line in raw.read_text().splitlines():
        if not line.strip():
            continue
        stack, count_text = line.rsplit(" ", 1)
        count = int(count_text)
        frames = [re.sub(r":\d+\)", ")", f) for f in stack.split(";")[1:]]  # [0] names the thread
        if not frames or any(idle in frames[-1] for idle in IDLE_LEAVES) or frames[-1].startswith("Runner.run"):
            continue  # waiting, or the event loop's own C code (uvloop polling)
        busy += count
        category = next((name for name, marks in PROFILE_RULES if any(m in f for f in frames for m in marks)),
                        "other (event loop, GC, imports)")
        categories[category] += count
        for frame in set(frames):
            inclusive[frame] += count
    return {"busy_samples": busy,
            "categories": {k: v / busy for k, v in categories.most_common()} if busy else {},
            "top_frames": {k: v / busy for k, v in inclusive.most_common(60)} if busy else {}}


def profile_kiln(model_key: str, info: dict[str, Any], records: list[dict[str, Any]], work: Path,
                 args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    """py-spy on one `kiln serve` worker (log on) under 16 connections of single rows, then batches."""
    py_spy = SERVE_VENV / "bin" / "py-spy"
    if not py_spy.exists():
        return {"error": "py-spy is not installed in benchmarks/.venv-serve"}
    port = free_port()
    server = server_for("kiln", model_key, info, port, 1)
    single = json.dumps(server.body(records[:1])).encode()
    out: dict[str, Any] = {}
    with running(server, port, single, work / "logs") as root:
        for kind, body_file, connections in (("single", work / "bodies" / "kiln-1.json", TARGET_CONNECTIONS),
                                             ("batch", work / "bodies" / f"kiln-{BATCH_ROWS}.json", 2)):
            raw = work / f"profile-{model_key}-{kind}.txt"
            env = {**os.environ, "KILN_BENCH_BODY": str(body_file)}
            load = subprocess.Popen(load_command(port, server.path, body_file, work / "post.lua",
                                                 connections=connections, duration_s=args.profile_s + 3),
                                    stdout=subprocess.PIPE, env=env, text=True)
            time.sleep(1.5)
            subprocess.run([str(py_spy), "record", "-p", str(root.pid), "-d", f"{args.profile_s:g}", "-r", "100",
                            "--threads", "--format", "raw", "-o", str(raw), "--nonblocking"],
                           capture_output=True, check=True)
            stdout, _ = load.communicate(timeout=120)
            summary = summarize_profile(raw)
            line = next((x for x in stdout.splitlines() if x.startswith("KILN-BENCH ")), "KILN-BENCH {}")
            summary["wrk"] = json.loads(line.split(" ", 1)[1])
            summary["connections"] = connections
            out[kind] = summary
            top = ", ".join(f"{k} {v:.0%}" for k, v in list(summary["categories"].items())[:4])
            log(f"  profile {kind}: {top}")
    return out


def clear_prediction_log(log: Callable[[str], None]) -> None:
    """Empty the work folder's prediction-log table, so that every logged run writes into a
    fresh table (as a new deployment does) rather than one grown by the earlier runs."""
    from sqlalchemy import text

    from kiln.store.database import engine
    from kiln.store.tables import ensure_tables, predictions

    database = engine()
    ensure_tables(database)
    with database.begin() as connection:
        removed = connection.execute(predictions.delete()).rowcount
    if removed and database.dialect.name == "sqlite":
        with database.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM"))
    log(f"  emptied the prediction log ({removed:,} rows from earlier runs)")


def log_counts(port: int, tries: int = 40) -> dict[str, int]:
    """Rows the workers' prediction logs wrote and dropped (GET /stats, one answer per worker)."""
    workers: dict[int, dict[str, int]] = {}
    for _ in range(tries):
        with contextlib.suppress(OSError, ValueError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as response:
                stats = json.loads(response.read())
            if stats.get("log"):
                workers[stats["worker"]] = stats["log"]
    totals = {key: sum(w[key] for w in workers.values()) for key in ("written", "dropped", "queued")}
    return {**totals, "workers": len(workers)}


# -- environment facts -------------------------------------------------------------------------


def versions(python: Path, packages: list[str]) -> dict[str, str]:
    code = ("import json, sys\nfrom importlib.metadata import version, PackageNotFoundError\nout = {}\n"
            "for p in sys.argv[1:]:\n    try: out[p] = version(p)\n    except PackageNotFoundError: pass\n"
            "print(json.dumps(out))")
    done = subprocess.run([str(python), "-c", code, *packages], capture_output=True, text=True)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def sync_dependencies() -> list[str]:
    """kiln's `Depends` functions that are plain `def` (FastAPI runs each in its thread pool)."""
    import inspect

    from kiln.serve import dependencies

    return sorted(name for name, function in vars(dependencies).items()
                  if inspect.isfunction(function) and function.__module__ == dependencies.__name__
                  and not inspect.iscoroutinefunction(function))


def kiln_engines(logs: Path) -> list[str]:
    """What `kiln serve` said it served through ("serving NAME VERSION through ENGINE"), from its logs."""
    import re

    found = {m.group(1, 2) for log in logs.glob("kiln*.log")
             for m in re.finditer(r"serving (\S+) \S+ through (.+)", log.read_text(errors="replace"))}
    return sorted(f"{name} through {engine.strip()}" for name, engine in found)


def peers_note() -> str:
    """Where the peers' venv gets kiln and MLflow from, when not from its own installs."""
    notes = []
    if not (SERVE_VENV / "bin" / "mlflow").exists():
        notes.append("no MLflow of its own: `mlflow models serve` ran from kiln's environment, MLflow being one of "
                     "kiln's dependencies")
    paths = [line for pth in SERVE_VENV.glob("lib/python*/site-packages/*.pth") for line in pth.read_text().split()
             if line.startswith("/") and "kiln" in pth.name]
    if paths:
        notes.append("kiln and the packages BentoML did not bring came from a `.pth` file naming "
                     + ", ".join(f"`{x}`" for x in paths) + ", after the venv's own packages")
    return "; ".join(notes)


def kiln_source() -> str:
    """The commit kiln ran from, and which serving files differed from it."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.rstrip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changed = [line[3:] for line in git("status", "--porcelain", "--", "src/kiln/serve", "src/kiln/store",
                                        "src/kiln/model.py").splitlines()]
    return f"commit {commit}" + (f" with uncommitted changes to {', '.join(changed)}" if changed else "")


def machine() -> dict[str, Any]:
    import psutil

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    wrk_version = (subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()
                   if shutil.which("wrk") else [])
    return {"cores": os.cpu_count(), "cpu": model, "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "wrk": wrk_version[0].split(" [")[0] if wrk_version else None}


# -- the report --------------------------------------------------------------------------------


def ms(us: float) -> str:
    value = us / 1000
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def micro(seconds: float) -> str:
    value = seconds * 1e6
    return f"{value:,.0f} µs" if value < 1000 else f"{value / 1000:,.2f} ms" if value < 100_000 else \
        f"{value / 1e6:,.2f} s"


def percent(share: float) -> str:
    """Rounded down, so that a share just under a target never reads as the target."""
    return f"{int(share * 100)}%"


def rate(value: float) -> str:
    return f"{value:,.0f}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def targets(results: dict[str, Any], model_key: str) -> list[tuple[str, str, bool | None]]:
    """Each target of the issue for one model: (what, measured, met)."""
    servers = results["servers"].get(model_key, {})
    floor = results["floor"].get(model_key, {})
    out: list[tuple[str, str, bool | None]] = []
    c = str(TARGET_CONNECTIONS)
    kiln = servers.get("kiln")
    if kiln and c in kiln.get("single", {}):
        run = kiln["single"][c]
        out.append((f"single-row p50 ≤ 1.5 ms at {c} connections (full path, log on)", f"{ms(run['p50_us'])} ms",
                    run["p50_us"] <= 1500))
        out.append((f"single-row p99 ≤ 5 ms at {c} connections (full path, log on)", f"{ms(run['p99_us'])} ms",
                    run["p99_us"] <= 5000))
        for peer, factor in (("bentoml", 2), ("mlflow", 10)):
            other = servers.get(peer)
            if other and c in other.get("single", {}):
                theirs = other["single"][c]["requests_per_s"]
                ratio = run["requests_per_s"] / theirs if theirs else float("inf")
                out.append((f"throughput ≥ {factor}× {peer}'s (single rows, {c} connections)",
                            f"{ratio:,.1f}× ({rate(run['requests_per_s'])} vs {rate(theirs)} req/s)",
                            ratio >= factor))
            else:
                out.append((f"throughput ≥ {factor}× {peer}'s", "not measured", None))
        in_process = floor.get("fast_batch") or floor.get("pandas_batch")
        if in_process:
            best = max(kiln["batch"].values(), key=lambda r: r["requests_per_s"])
            served_rows = best["requests_per_s"] * BATCH_ROWS
            floor_rows = BATCH_ROWS / in_process["median_s"]
            which = "fast path" if floor.get("fast_batch") else "pandas path"
            dropped = kiln.get("prediction_log", {}).get("dropped", 0)
            lost = f"; the log dropped {dropped:,} rows over the server's runs" if dropped else ""
            out.append((f"batch rows/s ≥ 50% of in-process predict ({which}, {BATCH_ROWS:,} rows)",
                        f"{percent(served_rows / floor_rows)} ({rate(served_rows)} vs {rate(floor_rows)} rows/s, "
                        f"best of {', '.join(BATCH_CONNECTIONS_TEXT)} connections{lost})",
                        served_rows >= 0.5 * floor_rows))
    return out


BATCH_CONNECTIONS_TEXT = [str(c) for c in BATCH_CONNECTIONS]


def load_generator(m: dict[str, Any]) -> str:
    if m.get("wrk"):
        return f"{m['wrk']} (Debian's package, one thread, a Lua script)"
    return ("`benchmarks/http_load.py` (wrk is not installed here): one Python process, one asyncio event loop "
            "(uvloop), HTTP/1.1 on plain asyncio streams; **it shares the machine's "
            f"{m['cores']} cores with the server**, so its own CPU (the *client* cores below) is taken from the "
            "server's and every throughput here is lower than a client on another machine would measure")


def batching_effect(results: dict[str, Any]) -> list[str]:
    """Micro-batching on (`kiln serve`, the default) against `--no-batching`, single rows."""
    rows = []
    for model_key, servers in results["servers"].items():
        on, off = servers.get("kiln", {}).get("single", {}), servers.get("kiln-nobatch", {}).get("single", {})
        for c in SINGLE_CONNECTIONS:
            if str(c) in on and str(c) in off:
                a, b = on[str(c)], off[str(c)]
                rows.append([model_key, str(c), rate(a["requests_per_s"]), rate(b["requests_per_s"]),
                             f"{a['requests_per_s'] / b['requests_per_s']:.2f}×" if b["requests_per_s"] else "–",
                             " / ".join(_latencies(a)), " / ".join(_latencies(b)),
                             f"{a['server_cores']:.2f} / {b['server_cores']:.2f}"])
    if not rows:
        return []
    workers = results["settings"]["workers"]
    goals = []
    for model_key, goal in (("lightgbm", 4_000), ("ensemble", 2_500)):  # issue 17's, batching on, 16 connections
        run = results["servers"].get(model_key, {}).get("kiln", {}).get("single", {}).get(str(TARGET_CONNECTIONS))
        if run:
            got = run["requests_per_s"]
            goals.append(f"{model_key} ≥ {rate(goal)} req/s: {rate(got)}, {'met' if got >= goal else '**missed**'}")
    return ["### Micro-batching: on against `--no-batching`", "",
            *table(["model", "connections", "req/s, batching on", "req/s, --no-batching", "on ÷ off",
                    "p50 / p99 ms, on", "p50 / p99 ms, off", "server cores, on / off"], rows),
            "", f"Single-row requests, {workers} workers, prediction log on in both; the same client and run "
            "settings as the table above, the two servers one after the other. At 1 connection no two requests "
            "are ever in flight together, so nothing is batched: the c=1 rows show how far two runs of the same "
            "code differ on this machine at the time."
            + (f" Issue 17's targets at {TARGET_CONNECTIONS} connections, {workers} workers, batching on: "
               + "; ".join(goals) + "." if goals else ""), ""]


def render(results: dict[str, Any]) -> str:
    m, args = results["machine"], results["settings"]
    out = ["## Serving: `kiln serve` against MLflow and BentoML", ""]
    load = results.get("load_before", [])
    others = [r["other_cores"] for runs in results["servers"].values() for run in runs.values()
              for kind in ("single", "batch") for r in run.get(kind, {}).values() if "other_cores" in r]
    busy_note = (f" During the measured runs, processes outside the benchmark used {sum(others) / len(others):.2f} "
                 f"cores on average (at most {max(others):.2f})." if others else "")
    if others and sum(others) / len(others) < 0.1 and load and load[0] > 1:
        busy_note += (" (The load average trails by minutes: it still counted work that had ended just before; "
                      "the measured share of other processes is the reliable figure.)")
    if others and sum(others) / len(others) > 0.25:
        busy_note += (" **The machine was not quiet**: other work ran throughout, so every number here is "
                      "pessimistic and noisy, p99 most of all; compare servers within this run only.")
    out += [
        f"- Date: {results['date']}; machine: {m['cores']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM; "
        f"Python {m['python']}. Load average just before measuring: "
        f"{' / '.join(f'{x:.2f}' for x in load)} (1 / 5 / 15 min){results.get('load_note', '')}.{busy_note}",
        f"- Load generator: {load_generator(m)}; keep-alive connections, closed loop, from "
        "its own process on 127.0.0.1, POSTing each server's own JSON body (kiln and BentoML "
        "`{\"rows\": [...]}` to /predict, MLflow `{\"dataframe_records\": [...]}` to /invocations). Each run: "
        f"{args['warmup']:g} s warm-up (discarded), then {args['duration']:g} s measured. p50/p99 are the client's "
        "(per request, from send to last byte); *req/s* is completed requests over the run; *server cores* "
        "is the CPU time of the server's process tree over the wall time; *others* is what the rest of the machine "
        "(processes outside this benchmark) used meanwhile.",
        f"- The servers ran one at a time, each with **{args['workers']} worker processes** (the machine has "
        f"{m['cores']} cores), serving the same registered model: `kiln serve models:/NAME@champion --workers "
        f"{args['workers']}`, `mlflow models serve -m models:/NAME@champion --env-manager local --workers "
        f"{args['workers']}` (kiln's pyfunc, models-from-code), and `bentoml serve` of "
        "`benchmarks/serving_peers/bentoml_service.py` (`kiln.load` of the same bundle, "
        f"`pd.DataFrame(rows)`, `Model.predictions_frame`; `workers={args['workers']}`).",
        f"- kiln from {results.get('kiln_source', 'the working tree')}. Versions: kiln's environment "
        + ", ".join(f"{k} {v}" for k, v in results["versions"]["kiln"].items())
        + f"; the peers' (`{results.get('peers_venv', 'benchmarks/.venv-serve')}`"
        + (f"; {results['peers_note']}" if results.get("peers_note") else "") + ") "
        + ", ".join(f"{k} {v}" for k, v in results["versions"]["peers"].items()) + ".",
    ]
    if results.get("kiln_engines"):
        out.append(f"- kiln serve's own start-up lines: {'; '.join(results['kiln_engines'])} (the bundles as "
                   "training saved them; an ONNX graph is served only after `kiln export --format onnx`).")
    if results.get("kiln_launch"):
        out.append(f"- **Note:** {results['kiln_launch']}.")
    for key, info in results["models"].items():
        out.append(f"- Model *{key}*: {MODELS[key][1]}, registered as `{info['name']}`; CV {info['cv']}; "
                   f"{info['fitted_models']} fitted model{'s' if info['fitted_models'] > 1 else ''}: "
                   f"{', '.join(info['members'])}.")
    agree = results.get("agreement", {})
    if agree:
        out.append("- Same predictions: on the 1,000-row batch the servers' positive-class probabilities differ "
                   "from kiln's by at most " + "; ".join(f"{k} {v:.1e} ({model})" for (model, k), v in
                                                          sorted(_agreement_items(agree))) + ".")
    out.append("")

    out += ["### In-process floor", ""]
    rows = []
    for key, floor in results["floor"].items():
        label = key
        rows.append([label, "`Model.predict_raw` (pandas path)", micro(floor["pandas_1"]["median_s"]),
                     micro(floor["pandas_1"]["p99_s"]), rate(BATCH_ROWS / floor["pandas_batch"]["median_s"])])
        if "fast_1" in floor:
            rows.append([label, "`FastPredictor.predict_raw` (fast path)", micro(floor["fast_1"]["median_s"]),
                         micro(floor["fast_1"]["p99_s"]), rate(BATCH_ROWS / floor["fast_batch"]["median_s"])])
            rows.append([label, "decode + validate + fast path + outputs (a request minus HTTP)",
                         micro(floor["request_1"]["median_s"]), micro(floor["request_1"]["p99_s"]),
                         rate(BATCH_ROWS / floor["request_batch"]["median_s"])])
        else:
            rows.append([label, f"fast path unavailable: {floor.get('fast_unavailable', '?')}", "–", "–", "–"])
    out += table(["model", "path", "1 row: median", "1 row: p99", f"{BATCH_ROWS:,} rows: rows/s"], rows)
    out += ["", "One thread, this process, the same real AI4I rows the servers get; medians over "
            f"about {args['floor_s']:g} s of calls per cell.", ""]

    out += ["### Over HTTP: single-row requests", ""]
    header = ["model", "server"]
    for c in SINGLE_CONNECTIONS:
        header += [f"c={c} p50 ms", f"c={c} p99 ms", f"c={c} req/s"]
    header += [f"cores at c={TARGET_CONNECTIONS}: server / client / others"]
    rows = []
    for model_key, servers in results["servers"].items():
        for key, label in SERVERS.items():
            run = servers.get(key)
            if run is None:
                continue
            if "error" in run:
                rows.append([model_key, label, *["–"] * (3 * len(SINGLE_CONNECTIONS)), f"failed: {run['error']}"])
                continue
            cells = []
            for c in SINGLE_CONNECTIONS:
                r = run["single"][str(c)]
                cells += [*_latencies(r), rate(r["requests_per_s"]) + _errors(r)]
            r = run["single"][str(TARGET_CONNECTIONS)]
            cells.append(f"{r['server_cores']:.2f} / {r['wrk_cores']:.2f} / {r.get('other_cores', float('nan')):.2f}")
            rows.append([model_key, label, *cells])
    out += table(header, rows)
    out.append("")

    out += batching_effect(results)
    out += [f"### Over HTTP: {BATCH_ROWS:,}-row batches", "",
            f"The in-process figure is one thread; each server has {args['workers']} worker processes, so a server "
            "can pass 100% of it.", ""]
    header = ["model", "server"]
    for c in BATCH_CONNECTIONS:
        header += [f"c={c} p50 ms", f"c={c} rows/s"]
    header += ["best vs in-process fast path"]
    rows = []
    for model_key, servers in results["servers"].items():
        floor = results["floor"].get(model_key, {})
        in_process = floor.get("fast_batch") or floor.get("pandas_batch")
        for key, label in SERVERS.items():
            run = servers.get(key)
            if run is None or "error" in run:
                continue
            cells = []
            for c in BATCH_CONNECTIONS:
                r = run["batch"][str(c)]
                cells += [_latencies(r)[0], rate(r["requests_per_s"] * BATCH_ROWS) + _errors(r)]
            best = max(r["requests_per_s"] for r in run["batch"].values()) * BATCH_ROWS
            cells.append(percent(best * in_process["median_s"] / BATCH_ROWS) if in_process else "–")
            rows.append([model_key, label, *cells])
    out += table(header, rows)
    out.append("")

    out += ["### Targets", ""]
    rows = []
    for model_key in results["servers"]:
        for what, measured, met in targets(results, model_key):
            rows.append([model_key, what, measured, "met" if met else "not measured" if met is None else "**missed**"])
    out += table(["model", "target", "measured", ""], rows)
    out += ["", "The issue's reference numbers (one LightGBM, this kind of machine): "
            + "; ".join(f"{k} {v}" for k, v in REFERENCE) + ".", ""]
    if results.get("profile"):
        out += ["### Where one kiln worker's time goes", ""]
        columns = [(m, kind) for m, p in results["profile"].items() for kind in ("single", "batch") if kind in p]
        names = list(dict.fromkeys(name for m, kind in columns for name in results["profile"][m][kind]["categories"]))
        header = ["part"] + [f"{m}, {'single rows' if kind == 'single' else f'{BATCH_ROWS:,}-row batches'} "
                             f"(c={results['profile'][m][kind]['connections']})" for m, kind in columns]
        rows = [[name] + [f"{results['profile'][m][kind]['categories'].get(name, 0):.0%}" for m, kind in columns]
                for name in names]
        out += table(header, rows)
        out += ["", f"py-spy (100 Hz, `--nonblocking`) on one `kiln serve --workers 1` process with the prediction "
                f"log on, {args.get('profile_s', 8):g} s under wrk; shares of the samples in which a thread was "
                "working (not waiting), all threads of the process together, each sample counted under the "
                "first part it passes through in the order listed by `PROFILE_RULES` in `benchmarks/serving.py`.",
                ""]
    out += ["### What limits these numbers", ""]
    for paragraph in limits(results):
        out += [paragraph, ""]
    return "\n".join(out)


def limits(results: dict[str, Any]) -> list[str]:
    """What limits the numbers, with this run's own figures filled in."""
    c = str(TARGET_CONNECTIONS)
    cores = results["machine"]["cores"]
    out = []
    shares = []
    for model_key, servers in results["servers"].items():
        run = servers.get("kiln", {}).get("single", {}).get(c)
        if run:
            shares.append(f"{model_key}: server {run['server_cores']:.2f} cores, client {run['wrk_cores']:.2f}")
    out.append(
        f"**One machine, {cores} cores, for everything.** The load generator, the server's supervisor, its "
        f"{results['settings']['workers']} worker processes and each worker's background threads (kiln's "
        "prediction-log writer and alias follower) all share the same cores, so no server gets two cores of its "
        f"own and the load generator's own CPU and scheduling delay are inside every latency (at {c} "
        f"connections: {'; '.join(shares) or 'not measured'}). The client is closed-loop: each connection sends "
        "its next request when the last one is answered, so once a server is saturated (16 and 64 connections) the "
        "latencies are mostly queueing — p50 ≈ connections ÷ throughput — and p99 understates what an open-loop "
        "client at the same rate would see (coordinated omission). The numbers compare servers with each other "
        "on this machine; a dedicated server machine would give every one of them more throughput."
        + (f" Load average before measuring was {results['load_before'][0]:.2f}{results.get('load_note', '')}."
           if results.get("load_before") else ""))
    needed = TARGET_CONNECTIONS / 0.0015
    at_one = [f"{k} {ms(runs['kiln']['single']['1']['p50_us'])} ms" for k, runs in results["servers"].items()
              if runs.get("kiln", {}).get("single", {}).get("1", {}).get("requests")]
    out.append(
        f"**The latency target at {c} connections is a throughput target.** With a closed-loop client, "
        f"{c} connections always waiting on the server give p50 ≈ {c} ÷ throughput (Little's law): p50 ≤ 1.5 ms "
        f"at {c} connections needs about {needed:,.0f} requests/s from {cores} cores that the client shares — several "
        "times the ~2,700 req/s the issue measured for a minimal FastAPI numpy handler. Without queueing, at "
        f"one connection, kiln's full path answers in p50 {', '.join(at_one) or '–'}.")
    floors = [f"{k} {micro(f['pandas_1']['median_s'])}" for k, f in results["floor"].items() if "pandas_1" in f]
    out.append(
        "**The peers run kiln's pandas path.** MLflow's pyfunc and the BentoML service call "
        "`Model.predictions_frame` on a DataFrame — the data-contract check (pandera), `Schema.coerce`, each "
        "member's ColumnTransformer and the libraries' own predict, with their thread pools — which costs "
        f"{', '.join(floors)} per single row in-process here (the issue's ≈ 0.9 ms was a bare LightGBM on "
        "pandas). That is what a user who wraps a kiln bundle in those frameworks gets, and what "
        "`mlflow models serve` of a registered kiln model runs (src/kiln/store/pyfunc_model.py), so the peer "
        "numbers measure \"a kiln model under MLflow / BentoML\", not the frameworks' bare HTTP overhead; most "
        "of the gap to kiln serve is kiln's pandas path against its fast path. Both peers also keep their "
        "default access logs on; kiln's is off by default.")
    profile = results.get("profile", {})
    for model_key, parts in profile.items():
        single, batch = parts.get("single", {}).get("categories", {}), parts.get("batch", {}).get("categories", {})
        if not single or not batch:
            continue
        part = {"http": "HTTP + ASGI stack (uvicorn, Starlette, FastAPI)", "deps": "FastAPI's dependency resolution",
                "predict": "predict: the fast path", "writer": "prediction-log writer thread",
                "decode": "read + decode + validate the body"}
        one = {k: single.get(v, 0) for k, v in part.items()}
        many = {k: batch.get(v, 0) for k, v in part.items()}
        floor = results["floor"].get(model_key, {})
        text = (f"**Where kiln's time goes: {model_key} model** (py-spy table above). Single rows: the prediction "
                f"is {one['predict']:.0%} of a worker's busy samples, the HTTP/ASGI stack {one['http']:.0%}, "
                f"FastAPI's dependency resolution {one['deps']:.0%}, the prediction-log writer {one['writer']:.0%}, "
                f"reading and decoding the body {one['decode']:.0%}. ")
        if one["predict"] >= 0.5 and "fast_1" in floor:
            text += (f"The model dominates: {results['models'][model_key]['fitted_models']} fitted models cost "
                     f"{micro(floor['fast_1']['median_s'])} per row on the fast path alone, so one worker cannot "
                     f"answer more than ~{1 / floor['fast_1']['median_s']:,.0f} single rows/s. ")
        else:
            text += "The model is a small part; the framework around it is most of the cost. "
        if many["writer"] > many["predict"]:
            text += (f"{BATCH_ROWS:,}-row batches: the prediction-log writer thread takes {many['writer']:.0%} of "
                     f"the busy samples against {many['predict']:.0%} for the prediction itself.")
        else:
            text += (f"{BATCH_ROWS:,}-row batches: the prediction takes {many['predict']:.0%}, the "
                     f"prediction-log writer {many['writer']:.0%}.")
        out.append(text)
    on_off = []
    for model_key, servers in results["servers"].items():
        on, off = servers.get("kiln", {}), servers.get("kiln-nolog", {})
        if "single" in on and "single" in off:
            best_on = max(r["requests_per_s"] for r in on["batch"].values()) * BATCH_ROWS
            best_off = max(r["requests_per_s"] for r in off["batch"].values()) * BATCH_ROWS
            dropped = on.get("prediction_log", {})
            noise = " (within run-to-run noise)" if on["single"][c]["requests_per_s"] >= \
                0.95 * off["single"][c]["requests_per_s"] else ""
            on_off.append(f"{model_key}: {rate(on['single'][c]['requests_per_s'])} vs "
                          f"{rate(off['single'][c]['requests_per_s'])} single-row req/s at {c} connections{noise}, "
                          f"{rate(best_on)} vs {rate(best_off)} batch rows/s"
                          + (f", {dropped['dropped']:,} of {dropped['written'] + dropped['dropped']:,} rows dropped "
                             "by the log's bounded queue" if dropped.get("workers") else ""))
    if on_off:
        out.append(
            "**The prediction log's cost** (log on vs `--no-log-predictions`: " + "; ".join(on_off) + "). "
            "A request only appends to a deque, but the writer thread runs in the same worker process: "
            "`Entry.rows` (src/kiln/store/prediction_log.py) builds a dict per row and SQLAlchemy's `executemany` "
            "inserts them one row at a time into a table with three secondary indexes (model, at, and the random "
            "request_id). When the writer falls behind, its bounded queue drops rows (counted, by design), so "
            "under sustained batch load the log-on throughput is bought by losing log rows — the table above "
            "should be read with the dropped count beside it. In this run "
            + results.get("log_table_note", "each logged server started from an empty prediction-log table") + ".")
    workers = results["settings"]["workers"]
    uneven = []
    for model_key, servers in results["servers"].items():
        for key, run in servers.items():
            r = run.get("single", {}).get(c)
            machine_busy = r["server_cores"] + r["wrk_cores"] + r.get("other_cores", 0) if r else 0
            if r and workers > 1 and r["server_cores"] < 0.7 * workers and r["requests"] and machine_busy < 0.8 * cores:
                uneven.append(f"{SERVERS[key]} ({model_key}: {r['server_cores']:.2f} cores)")
    if uneven:
        out.append(
            f"**Idle cores at {c} connections:** " + ", ".join(uneven) + f" kept less than {0.7 * workers:.1f} of "
            f"the {workers} cores busy while {c} connections waited: its worker processes apparently did not share "
            "the connections evenly (each keep-alive connection stays with the worker that accepted it).")
    sync = results.get("sync_dependencies")
    if sync:
        out.append(
            f"**Thread hops per request.** FastAPI runs each plain `def` dependency through `run_in_threadpool`; "
            f"`/predict` has {len(sync)} such ({', '.join(f'`{n}`' for n in sync)} in "
            "src/kiln/serve/dependencies.py), a thread hop each for an attribute read.")
    elif sync is not None:
        out.append(
            "**Per request, around the model:** kiln's `Depends` functions are `async def` (no thread-pool hop), "
            "and the ASGI stack around a request has eight layers (uvicorn's proxy headers, five of Starlette "
            "and FastAPI, kiln's telemetry and body-limit middlewares); for a single LightGBM that framework "
            "work, not the model, is most of a worker's time (profile above).")
    return out


def _latencies(run: dict[str, Any]) -> list[str]:
    """p50 and p99; a run in which no request completed has none (wrk reports zeros)."""
    if not run["requests"]:
        return ["– (none completed)", "–"]
    return [ms(run["p50_us"]), ms(run["p99_us"])]


def _errors(run: dict[str, Any]) -> str:
    return f" ({run['errors']} errors)" if run["errors"] else ""


def _agreement_items(agree: dict[str, float]) -> list[tuple[tuple[str, str], float]]:
    return [(tuple(key.split("/", 1)), value) for key, value in agree.items()]  # type: ignore[misc]


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "kiln-serving-bench")
    parser.add_argument("--models", default="ensemble,lightgbm")
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measured wrk run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up before each run")
    parser.add_argument("--floor-s", type=float, default=2.0, help="seconds of calls per in-process cell")
    parser.add_argument("--profile-s", type=float, default=8.0,
                        help="seconds of py-spy on one kiln worker per load (0: no profile)")
    parser.add_argument("--retrain", action="store_true", help="start over: new work folder, models, registry")
    parser.add_argument("--report-only", action="store_true", help="re-render RESULTS.md from the saved JSON")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing RESULTS.md")
    args = parser.parse_args()
    work: Path = args.work.resolve()
    saved = work / "serving-results.json"
    if args.report_only:
        results = json.loads(saved.read_text())
        results.setdefault("kiln_engines", kiln_engines(work / "logs"))
        finish(results, args)
        return
    if args.retrain and work.exists():
        shutil.rmtree(work)
    (work / "logs").mkdir(parents=True, exist_ok=True)
    os.environ["KILN_HOME"] = str(work / "home")
    os.environ.setdefault("KILN_DB", f"sqlite:///{work / 'home' / 'kiln.db'}")
    os.environ["MLFLOW_TRACKING_URI"] = os.environ["KILN_DB"]
    os.environ.setdefault("PYTHONWARNINGS", "ignore")

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    model_keys = [k for k in args.models.split(",") if k]
    server_keys = [k for k in args.servers.split(",") if k]
    started = time.time()
    info = prepare_models(work, model_keys, log)
    results: dict[str, Any] = {
        "date": date.today().isoformat(), "machine": machine(), "load_before": list(os.getloadavg()),
        "settings": {"workers": args.workers, "duration": args.duration, "warmup": args.warmup,
                     "floor_s": args.floor_s, "profile_s": args.profile_s},
        "versions": {
            "kiln": versions(Path(sys.executable), ["kiln-ml", "fastapi", "uvicorn", "uvloop", "httptools", "orjson",
                                                    "numpy", "pandas", "scikit-learn", "lightgbm", "catboost"]),
            "peers": versions(SERVE_VENV / "bin" / "python", ["mlflow", "bentoml", "fastapi", "uvicorn", "starlette",
                                                             "pandas", "numpy"]),
        },
        "models": info, "floor": {}, "servers": {}, "agreement": {}, "kiln_source": kiln_source(),
        "sync_dependencies": sync_dependencies(),
        "peers_venv": str(SERVE_VENV), "peers_note": peers_note(),
    }
    log(f"load average before: {results['load_before']}")
    for model_key in model_keys:
        bundle = Path(info[model_key]["bundle"])
        records = sample_records(work, bundle, BATCH_ROWS)
        log(f"{model_key}: in-process floor")
        floor = measure_floor(bundle, records, args.floor_s)
        results["floor"][model_key] = floor
        log("  " + ", ".join(f"{k} {v['median_s'] * 1e6:,.0f} µs" for k, v in floor.items() if isinstance(v, dict)))
        results["servers"][model_key] = {}
        for key in server_keys:
            port = free_port()
            server = server_for(key, model_key, info[model_key], port, args.workers)
            if key in ("kiln", "kiln-nobatch"):
                clear_prediction_log(log)
            log(f"{model_key}: {key} on port {port}")
            try:
                try:
                    run = measure_server(server, port, records, work, args, log)
                except RuntimeError:
                    crash = work / "logs" / f"{key}-{port}.log"
                    if not (key.startswith("kiln") and MULTIPROCESS_BUG in crash.read_text(errors="replace")):
                        raise
                    LAUNCH["kiln_via_uvicorn"] = True
                    results["kiln_launch"] = (f"`kiln serve --workers {args.workers}` exits at start-up with "
                                              f"uvicorn {results['versions']['kiln'].get('uvicorn')} "
                                              f"(TypeError: Multiprocess.__init__() got an {MULTIPROCESS_BUG}), "
                                              "so kiln's app ran through uvicorn's CLI: `uvicorn "
                                              "kiln.serve.server:app_from_environment --factory --workers "
                                              f"{args.workers}` with the settings `kiln serve` would pass")
                    log(f"  kiln serve --workers {args.workers} crashed ({MULTIPROCESS_BUG}); using uvicorn's CLI")
                    port = free_port()
                    server = server_for(key, model_key, info[model_key], port, args.workers)
                    run = measure_server(server, port, records, work, args, log)
            except Exception as exc:
                log(f"  {key} failed: {exc}")
                run = {"server": key, "error": str(exc)[:300]}
            results["servers"][model_key][key] = run
        if args.profile_s > 0 and any(k.startswith("kiln") for k in server_keys):
            log(f"{model_key}: py-spy on one kiln worker")
            try:
                results.setdefault("profile", {})[model_key] = profile_kiln(model_key, info[model_key], records,
                                                                           work, args, log)
            except Exception as exc:
                log(f"  profile failed: {exc}")
        reference = results["servers"][model_key].get("kiln", {}).get("batch_probabilities")
        for key, run in results["servers"][model_key].items():
            if reference and "batch_probabilities" in run and key != "kiln":
                diff = max(abs(a - b) for a, b in zip(reference, run["batch_probabilities"], strict=True))
                results["agreement"][f"{model_key}/{key}"] = diff
    results["kiln_engines"] = kiln_engines(work / "logs")
    results["load_after"] = list(os.getloadavg())
    results["wall_s"] = time.time() - started
    for runs in results["servers"].values():
        for run in runs.values():
            run.pop("batch_probabilities", None)
    saved.write_text(json.dumps(results, indent=1, default=lambda o: asdict(o)))
    log(f"done in {results['wall_s']:.0f} s; results in {saved}")
    finish(results, args)


def finish(results: dict[str, Any], args: argparse.Namespace) -> None:
    section = render(results)
    if args.no_write:
        print(section)
    else:
        write_section(SECTION, section)
        print(f"wrote the '{SECTION}' section of {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
