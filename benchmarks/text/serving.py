"""Serving latency of the intent classifier: one short message per request, in process and over HTTP.

    python benchmarks/text/serving.py [--requests 1000] [--time-limit 30] [--no-write]

Trains the model `kiln demo text` trains (the shipped help-desk intent set, `--text-column utterance
--reject-below auto`, sentence embeddings off; not timed here) twice, as kiln chooses and with linear
learners only (which members are kept varies with the budget and the load, and a 13-class
LightGBM member costs milliseconds a message), then measures for each (1) in process: the
served model's `predict_raw` of one decoded message, and (2) over HTTP: sequential `POST /predict
{"rows": [{"utterance": ...}]}` to a real `kiln serve` (uvicorn on 127.0.0.1, the prediction log on,
as by default) through one keep-alive connection, after a warm-up of 100 requests, each followed by
a `GET /health` on the same server and connection: the stack's floor, measured interleaved so that
both see the same machine load. The messages are the held-out demo messages, cycled. The server's
CPU time per request (from /proc) is what a quiet machine's latency would approach. The issue's
target is p50 ≤ 2 ms over HTTP without embeddings. Writes the `text-serving` section of
benchmarks/RESULTS.md, with the machine's load beside it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sections import write_section  # noqa: E402

# The recommender benchmark's helpers (percentiles, /proc CPU time, starting `kiln serve`), loaded by
# path: this file is also named serving.py.
_spec = importlib.util.spec_from_file_location("recommend_serving", HERE.parent / "recommend" / "serving.py")
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
cpu_seconds, percentiles, serve, wait_ready = (
    _helpers.cpu_seconds,
    _helpers.percentiles,
    _helpers.serve,
    _helpers.wait_ready,
)

WARM_UP = 100
VARIANTS = {"what kiln keeps": None, "linear members only": ["linear"]}  # learners= of kiln.train


def measure(train: Any, asked: list[str], time_limit: int, learners: list[str] | None, tmp: Path) -> dict[str, Any]:
    """Train one model (no embeddings), then time it in process and behind a real `kiln serve`."""
    import httpx

    import kiln
    from kiln.serve.decode import decode_records
    from kiln.serve.served import ServedModel

    model = kiln.train(train, target="intent", time_limit=time_limit, text_columns=["utterance"],
                       reject_below="auto", text_embeddings=False, learners=learners, quiet=True)
    steps = [type(t).__name__ for m in model.members for f in m.folds for _, t, _ in f.prep.transformers_]
    assert "SentenceEmbedding" not in steps, steps  # the target is for a model without embeddings
    bundle = kiln.save(model, tmp / "bot")
    served = ServedModel.load(str(bundle))  # as `kiln serve` loads it (fast path where it applies)
    for message in asked[:WARM_UP]:
        served.predict_raw(decode_records([{"utterance": message}], served.model.schema))
    inproc = []
    for message in asked:
        started = time.perf_counter()
        served.predict_raw(decode_records([{"utterance": message}], served.model.schema))
        inproc.append(time.perf_counter() - started)
    server, url = serve(bundle, tmp / "home")
    try:
        with httpx.Client(timeout=30) as client:
            wait_ready(client, url)
            for message in asked[:WARM_UP]:
                client.post(f"{url}/predict", json={"rows": [{"utterance": message}]})
            http, floor, cpu = [], [], [0.0, 0.0]
            for message in asked:  # each /predict followed by a /health: the same load for both
                cpu_before, started = cpu_seconds(server.pid), time.perf_counter()
                response = client.post(f"{url}/predict", json={"rows": [{"utterance": message}]})
                http.append(time.perf_counter() - started)
                cpu_between = cpu_seconds(server.pid)
                cpu[0] += cpu_between - cpu_before
                assert response.status_code == 200 and "answers" in response.json(), response.text
                started = time.perf_counter()
                assert client.get(f"{url}/health").status_code == 200
                floor.append(time.perf_counter() - started)
                cpu[1] += cpu_seconds(server.pid) - cpu_between
    finally:
        server.terminate()
        server.wait(30)
    members = ", ".join(f"{m.name} ({m.weight:.2f})" for m in model.members)
    return {"members": members, "engine": served.engine, "inproc": percentiles(inproc), "http": percentiles(http),
            "health": percentiles(floor), "cpu_ms": [c * 1000 / len(asked) for c in cpu]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--time-limit", type=int, default=30)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    import logging

    from sklearn.model_selection import train_test_split

    from kiln.demo.intents import load_intents

    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    load_before = os.getloadavg()
    frame = load_intents()
    train, held_out = train_test_split(frame, test_size=0.2, random_state=0, stratify=frame["intent"])
    messages = held_out["utterance"].tolist()
    asked = [messages[i % len(messages)] for i in range(args.requests)]
    results = {}
    for name, learners in VARIANTS.items():
        with tempfile.TemporaryDirectory() as tmp:
            results[name] = measure(train, asked, args.time_limit, learners, Path(tmp))
    load_after = os.getloadavg()

    def row(p: dict[str, float]) -> str:
        return f"{p['p50']:.2f} | {p['p95']:.2f} | {p['p99']:.2f}"

    lines = []
    for name, r in results.items():
        lines += [f"| {name}: in process (`ServedModel.predict_raw`, {r['engine']}) | {row(r['inproc'])} | |",
                  f"| {name}: over HTTP (`POST /predict`) | {row(r['http'])} | {r['cpu_ms'][0]:.2f} |",
                  f"| {name}: `GET /health` after each (the stack's floor) | {row(r['health'])} | "
                  f"{r['cpu_ms'][1]:.2f} |"]
    kept = "; ".join(f"{name}: {r['members']}" for name, r in results.items())
    met = {name: r["http"]["p50"] <= 2 for name, r in results.items()}
    words = sum(len(m.split()) for m in messages) / len(messages)
    table = "\n".join(lines)
    body = f"""## Text serving: one short message to the intent classifier

The model `kiln demo text` trains: the shipped help-desk intent set ({len(train)} training messages,
{frame["intent"].nunique()} classes with out-of-scope), `--text-column utterance --reject-below auto`,
{args.time_limit} s, no sentence embeddings; once as kiln chooses and once with linear learners only
(members and weights: {kept}). {args.requests:,} requests, each one held-out message (mean
{words:.1f} words), after {WARM_UP} warm-up requests; over HTTP: a real `kiln serve` (uvicorn on
127.0.0.1, prediction log on, as by default), one keep-alive connection, each `POST /predict` followed
by a `GET /health` on the same server, so that the floor sees the same machine load.

| model: path | p50 ms | p95 ms | p99 ms | server CPU ms per request |
|---|---:|---:|---:|---:|
{table}

Server CPU per request: the `kiln serve` process's user + system time around each request, from /proc
(10 ms clock ticks, summed over the run; the prediction log's writer process not counted): what a
quiet machine's latency would approach. Under load the wall time is mostly waiting for a core.

Target p50 ≤ 2 ms over HTTP: {"; ".join(f"{n}: **{'met' if m else 'missed'}**" for n, m in met.items())} here.
Machine load (1-minute average) {load_before[0]:.1f} before, {load_after[0]:.1f} after, on {os.cpu_count()}
cores shared with other work: the wall-clock numbers are pessimistic. Rerun: `python benchmarks/text/serving.py`.
"""
    print(body)
    if not args.no_write:
        write_section("text-serving", body, script=__file__)


if __name__ == "__main__":
    main()
