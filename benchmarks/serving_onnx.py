"""ONNX Runtime against the hand-written fast path and `Model.predict_raw`, same models, same run.

    .venv/bin/python benchmarks/serving_onnx.py            # trains once into the work folder, ~6 minutes
    .venv/bin/python benchmarks/serving_onnx.py --http-requests 100 --runs 100   # a quick check

Models (AI4I 2020, tests/data; trained once into --work and kept): one LightGBM
(`max_trials=1`, refitted on all rows), an ensemble of the families ONNX converts with native
categories (LightGBM, random forest, extra trees, linear: 60 s), and the full 60 s ensemble
(whatever families the search keeps). Each is exported with `kiln export`'s code path; a refusal
is recorded with its sentence.

Figures: in-process single-row and 1,000-row `predict_raw` (median and best of --runs, on decoded
columns as the server holds them), and over HTTP from one client thread on 127.0.0.1 (a `kiln
serve` of the bundle with its graph and of a copy without it, so the second serves through the
fast path): p50 and p99 of --http-requests single-row requests, then 16 client threads for
--http-seconds (req/s). The client runs on the same 2 cores as the server, so the 16-thread
req/s is bounded by the Python client as much as by the server. The load average is written
beside every figure: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sections import write_section  # noqa: E402

DATA = HERE.parent / "tests" / "data" / "ai4i2020.csv"
DROPPED = ["TWF", "HDF", "PWF", "OSF", "RNF"]
TARGET = "Machine failure"
SECTION = "serving-onnx"
MODELS = {
    "LightGBM": {"learners": ["lightgbm"], "max_trials": 1, "time_limit": 60},
    "ensemble of convertible families, 60 s": {"learners": ["lightgbm", "random_forest", "extra_trees", "linear"],
                                               "time_limit": 60},
    "full ensemble, 60 s": {"time_limit": 60},
}


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def timings(call: Callable[[], object], runs: int) -> list[float]:
    call()
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        out.append(time.perf_counter() - started)
    return out


def train_models(work: Path) -> dict[str, Path]:
    import pandas as pd

    import kiln

    frame = pd.read_csv(DATA).drop(columns=DROPPED)
    paths = {}
    for i, (name, options) in enumerate(MODELS.items()):
        path = work / f"model_{i}"
        if not (path / "kiln.json").exists():
            model = kiln.train(frame, target=TARGET, n_jobs=1, quiet=True, seed=0, **options)
            kiln.save(model, path)
        paths[name] = path
    return paths


def in_process(path: Path, runs: int) -> dict[str, Any]:
    import pandas as pd

    import kiln
    from kiln.export.onnx import ExportRefused, columns_from_frame, convert_and_verify
    from kiln.serve.fast_path import FastPredictor
    from kiln.serve.onnx_runtime import OnnxPredictor

    model = kiln.load(path)
    frame = pd.read_csv(DATA).drop(columns=[*DROPPED, TARGET]).head(1_000)
    columns = columns_from_frame(frame, model.schema)
    one = {k: v[:1] for k, v in columns.items()}
    result: dict[str, Any] = {"members": [f"{m.learner} ×{len(m.folds)}" for m in model.members]}
    started = time.perf_counter()
    try:
        graph, check = convert_and_verify(model)
        result["export"] = {"seconds": time.perf_counter() - started, "max_difference": check.max_difference,
                            "bytes": len(graph.serialize())}
        engines: dict[str, Any] = {"onnxruntime": OnnxPredictor(model, graph.serialize())}
    except ExportRefused as exc:
        result["export"] = {"refused": str(exc)}
        engines = {}
    engines["fast path"] = FastPredictor.compile(model)
    for name, predictor in engines.items():
        single = timings(lambda p=predictor: p.predict_raw(one, 1), runs)
        batch = timings(lambda p=predictor: p.predict_raw(columns, 1_000), max(5, runs // 20))
        result[name] = {"single_us": statistics.median(single) * 1e6, "single_best_us": min(single) * 1e6,
                        "batch_rows_per_s": 1_000 / statistics.median(batch), "load": load()}
    pandas_single = timings(lambda: model.predict_raw(frame.head(1)), max(5, runs // 20))
    result["Model.predict_raw"] = {"single_us": statistics.median(pandas_single) * 1e6,
                                   "single_best_us": min(pandas_single) * 1e6, "load": load()}
    return result


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def over_http(bundle: Path, requests: int, seconds: float) -> dict[str, Any]:
    import httpx
    import pandas as pd

    row = pd.read_csv(DATA).drop(columns=[*DROPPED, TARGET]).iloc[0].to_dict()
    port = _free_port()
    kiln_command = str(Path(sys.executable).with_name("kiln"))
    process = subprocess.Popen([kiln_command, "serve", str(bundle), "--port", str(port), "--no-log-predictions"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        engine = httpx.get(f"{url}/metadata", timeout=10).json()["engine"]
        body = {"rows": [row]}
        with httpx.Client(timeout=10) as client:
            for _ in range(20):
                client.post(f"{url}/predict", json=body)
            latencies = []
            for _ in range(requests):
                started = time.perf_counter()
                client.post(f"{url}/predict", json=body).raise_for_status()
                latencies.append(time.perf_counter() - started)
        latencies.sort()
        single_load = load()
        count, stop = [0], threading.Event()
        lock = threading.Lock()

        def hammer() -> None:
            with httpx.Client(timeout=10) as client:
                while not stop.is_set():
                    client.post(f"{url}/predict", json=body)
                    with lock:
                        count[0] += 1

        threads = [threading.Thread(target=hammer, daemon=True) for _ in range(16)]
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join(10)
        return {"engine": engine, "p50_ms": latencies[len(latencies) // 2] * 1e3,
                "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1e3, "single_load": single_load,
                "req_per_s_16": count[0] / seconds, "load_16": load()}
    finally:
        process.terminate()
        process.wait(60)


def render(results: dict[str, Any]) -> str:
    lines = ["## Serving through ONNX Runtime: the exported graph against the fast path", "",
             "AI4I 2020 models. In process (decoded columns → `predict_raw`, one thread; median of the runs, "
             "best in brackets; "
             "load average beside each):", "",
             "| model | members | engine | single row | 1,000-row batch | load |", "|---|---|---|---|---|---|"]
    for name, result in results["in_process"].items():
        members = ", ".join(result["members"])
        for engine in ("onnxruntime", "fast path", "Model.predict_raw"):
            if engine not in result:
                continue
            r = result[engine]
            batch = f"{r['batch_rows_per_s']:,.0f} rows/s" if "batch_rows_per_s" in r else "–"
            lines.append(f"| {name} | {members} | {engine} | {r['single_us']:,.0f} µs ({r['single_best_us']:,.0f}) "
                         f"| {batch} | {r['load']} |")
        export = result["export"]
        if "refused" in export:
            lines.append(f"| {name} | | export refused | {export['refused']} | | |")
    lines += ["", "Over HTTP (`kiln serve`, 1 worker, no prediction log; one client thread for p50/p99, then 16 "
              "client threads on the same 2 cores):", "",
              "| model | engine | p50 | p99 | req/s, 16 threads | load |", "|---|---|---|---|---|---|"]
    for name, runs in results["http"].items():
        for r in runs:
            lines.append(f"| {name} | {r['engine']} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | "
                         f"{r['req_per_s_16']:,.0f} | {r['single_load']} / {r['load_16']} |")
    refused = [name for name, r in results["in_process"].items() if "refused" in r["export"]]
    faster = [name for name, r in results["in_process"].items()
              if "onnxruntime" in r and r["onnxruntime"]["single_us"] < r["fast path"]["single_us"]]
    held = ("so the fast path stays for the models ONNX cannot hold" if refused else
            "so every model here has a graph to serve")
    lines += ["", f"ONNX Runtime was faster than the fast path on a single row for {len(faster)} of the "
              f"{len(results['in_process']) - len(refused)} models it converts; the export refused "
              f"{len(refused)} of {len(results['in_process'])} ({', '.join(refused) or 'none'}), {held} "
              "(`kiln serve` uses the stored graph when there is one).",
              "", "Not measured here: the peers `mlflow models serve` and `bentoml serve` (benchmarks/serving.py "
              "drives them with wrk from a venv of their own; neither wrk nor that venv was on this machine), "
              "micro-batching's effect at 16 and 64 connections (it needs a client that does not share the "
              "server's two cores), and the prediction log under 1,000-row batches (benchmarks/prediction_log.py's "
              "section)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/kiln-onnx-bench"))
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--http-requests", type=int, default=500)
    parser.add_argument("--http-seconds", type=float, default=10.0)
    parser.add_argument("--report-only", action="store_true", help="re-render RESULTS.md from the saved JSON")
    args = parser.parse_args()
    if args.report_only:
        write_section(SECTION, render(json.loads((args.work / "results.json").read_text())))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    os.environ["KILN_HOME"] = str(args.work / "home")
    paths = train_models(args.work)
    results: dict[str, Any] = {"in_process": {}, "http": {}}
    for name, path in paths.items():
        results["in_process"][name] = in_process(path, args.runs)
        print(name, json.dumps(results["in_process"][name], default=str)[:600], flush=True)
    from kiln.export.onnx import ExportRefused, export_onnx

    for name, path in paths.items():
        if "refused" in results["in_process"][name]["export"]:
            continue
        exported = args.work / f"{path.name}_onnx"
        shutil.rmtree(exported, ignore_errors=True)
        shutil.copytree(path, exported)
        try:
            export_onnx(exported, args.work / f"{path.name}.onnx")
        except ExportRefused:
            continue
        results["http"][name] = [over_http(exported, args.http_requests, args.http_seconds),
                                 over_http(path, args.http_requests, args.http_seconds)]
        print(name, results["http"][name], flush=True)
    (args.work / "results.json").write_text(json.dumps(results, indent=2, default=str))
    write_section(SECTION, render(results))


if __name__ == "__main__":
    main()
