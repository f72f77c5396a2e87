"""The prediction log under sustained 1,000-row batches: rows dropped, rows/s with the log on and off,
and what the log costs the worker and the writer process.

    .venv/bin/python benchmarks/prediction_log.py [--seconds 15]

One thread does what a server worker does for a 1,000-row request, back to back, as fast as it
can, in two loops:

- "predict only": predict the decoded rows (ONNX Runtime when the bundle has a graph) and turn
  them into predictions and probabilities: the fastest a worker can go, so the hardest pace
  for the log;
- "a worker's whole request": also parse the JSON body (`records_from_json`), decode it
  against the data contract (`decode_records`) and encode the response (orjson), as
  `POST /predict` does, without the HTTP.

Each loop runs without the log, then with it, appending each request as `POST /predict` does
(the entry holds the JSON body, which the writer parses again), with the server's defaults
(`ServeSettings`: batch, flush and queue sizes) and its back-pressure (a full queue makes
the request wait, up to `log_wait_s`, instead of dropping its rows). SQLite in a temporary
folder; the writer process inserts. Reported: rows/s with and without the log, rows
answered, written and dropped, the waits, the CPU the log's feeder thread spent in the
worker process against that process's whole CPU, and the writer process's own CPU per row
(it runs beside the worker, on the machine's other core). The model is
benchmarks/serving_onnx.py's LightGBM (run that first).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sections import write_section  # noqa: E402

DATA = HERE.parent / "tests" / "data" / "ai4i2020.csv"
DROPPED = ["TWF", "HDF", "PWF", "OSF", "RNF", "Machine failure"]
SECTION = "prediction-log"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("/tmp/kiln-onnx-bench/model_0_onnx"))
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--no-write", action="store_true", help="print the section, leave RESULTS.md alone")
    args = parser.parse_args()

    import orjson
    import pandas as pd

    from kiln.serve.decode import decode_records, records_from_json
    from kiln.serve.served import ServedModel
    from kiln.serve.settings import ServeSettings
    from kiln.store.prediction_log import Entry, PredictionLog

    settings = ServeSettings(model=str(args.model))
    served = ServedModel.load(str(args.model))
    frame = pd.read_csv(DATA).drop(columns=DROPPED).head(1_000)
    body = orjson.dumps({"rows": frame.to_dict(orient="records")})
    decoded_once = decode_records(records_from_json(body, max_rows=settings.max_rows), served.model.schema)
    decoded_once.body = body  # as `POST /predict` keeps it for the log

    def predict_only() -> tuple[Any, list, list | None]:
        predictions, probabilities = served.outputs(served.predict_raw(decoded_once))
        return decoded_once, predictions, probabilities

    def whole_request() -> tuple[Any, list, list | None]:
        decoded = decode_records(records_from_json(body, max_rows=settings.max_rows), served.model.schema)
        decoded.body = body
        predictions, probabilities = served.outputs(served.predict_raw(decoded))
        orjson.dumps({"version": served.version, "predictions": predictions, "probabilities": probabilities,
                      "counts": decoded.counts()}, option=orjson.OPT_SERIALIZE_NUMPY)
        return decoded, predictions, probabilities

    def warm_up(log: PredictionLog) -> tuple[float, float]:
        """One row through the log, so the writer process's start (its imports) is not counted: the
        feeder's and the writer's CPU seconds once it is written."""
        log.append(Entry("warm-up", served.name, served.version, time.time(), served.logged_columns,
                         decoded_once.records[:1], [0], None))
        deadline = time.monotonic() + 120
        while log.written < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        return log.cpu_s, log.writer_cpu_s

    def loop(request: Any, log: PredictionLog | None) -> dict[str, Any]:
        answered, cpu0, started = 0, time.process_time(), time.perf_counter()
        while time.perf_counter() - started < args.seconds:
            decoded, predictions, probabilities = request()
            if log is not None:
                log.append(Entry(f"r{answered}", served.name, served.version, time.time(), served.logged_columns,
                                 decoded.records, predictions, probabilities, decoded.body),
                           wait_s=settings.log_wait_s)
            answered += decoded.n_rows
        return {"rows_per_s": answered / (time.perf_counter() - started), "answered": answered,
                "worker_cpu": time.process_time() - cpu0, "load": os.getloadavg()[0]}

    runs = []
    for name, request in (("predict only", predict_only), ("a worker's whole request", whole_request)):
        off = loop(request, None)
        with tempfile.TemporaryDirectory() as folder:
            log = PredictionLog(f"sqlite:///{folder}/log.db", batch_rows=settings.log_batch_rows,
                                flush_s=settings.log_flush_s, queue_rows=settings.log_queue_rows)
            started_cpu = warm_up(log)
            on = loop(request, log)
            drained = time.perf_counter()
            log.close(timeout=600)
            on.update(written=log.written - 1, dropped=log.dropped, waits=log.waits, waited_s=log.waited_s,
                      feeder_cpu=log.cpu_s - started_cpu[0], writer_cpu=log.writer_cpu_s - started_cpu[1],
                      close_s=time.perf_counter() - drained)
        runs.append((name, off, on))
        print(name, off, on, flush=True)
    body_text = render(runs, args.seconds, served.engine, settings)
    print(body_text)
    if not args.no_write:
        write_section(SECTION, body_text)


def render(runs: list[tuple[str, dict[str, Any], dict[str, Any]]], seconds: float, engine: str,
           settings: Any) -> str:
    lines = [
        "## Prediction log under sustained 1,000-row batches", "",
        f"One worker thread answering 1,000-row requests back to back for {seconds:g} s ({engine}, AI4I "
        "LightGBM), without the log and then with it (SQLite in a temporary folder; a writer process inserts). "
        "With the log on each request is appended as `POST /predict` does, with the server's defaults: batches of "
        f"{settings.log_batch_rows} rows, a queue of {settings.log_queue_rows:,} rows, and back-pressure (a request "
        f"that finds the queue full waits, up to {settings.log_wait_s:g} s, for the writer instead of dropping its "
        "rows). \"Predict only\" is the fastest a worker goes (decoded rows → predictions and probabilities); \"a "
        "worker's whole request\" adds parsing the JSON body, decoding it against the data contract and encoding "
        "the response, without the HTTP.", "",
        "| loop | log | rows/s | rows answered | written | dropped | waits (s waited) | log's CPU in the worker "
        "| writer process CPU | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for name, off, on in runs:
        lines.append(f"| {name} | off | {off['rows_per_s']:,.0f} | {off['answered']:,} | | | | | | "
                     f"{off['load']:.1f} |")
        share = 100 * on["feeder_cpu"] / max(on["worker_cpu"], 1e-9)
        per_row = 1e6 * on["writer_cpu"] / max(on["written"], 1)
        lines.append(f"| {name} | on | {on['rows_per_s']:,.0f} | {on['answered']:,} | {on['written']:,} | "
                     f"{on['dropped']:,} | {on['waits']:,} ({on['waited_s']:.1f}) | {on['feeder_cpu']:.2f} s of "
                     f"{on['worker_cpu']:.2f} s ({share:.1f}%) | {on['writer_cpu']:.2f} s ({per_row:.1f} µs a row) | "
                     f"{on['load']:.1f} |")
        worker_row = 1e6 * on["worker_cpu"] / max(on["answered"], 1)
        whole = 100 * (on["writer_cpu"] + on["feeder_cpu"]) / max(on["writer_cpu"] + on["worker_cpu"], 1e-9)
        notes.append(f"- {name}: with the log on, {100 * on['rows_per_s'] / off['rows_per_s']:.0f}% of the rows/s "
                     f"without it, {on['dropped']:,} rows dropped, {share:.1f}% of the worker's CPU spent on the log. "
                     f"The writer process spent {per_row:.1f} µs of CPU a row against the worker's {worker_row:.1f} "
                     f"µs: the log (feeder and writer) is {whole:.0f}% of all the CPU a logged row costs")
    lines += ["", *notes, "",
              "On a machine whose cores are all busy (here two cores, shared with other work), the writer's CPU is "
              "taken from the worker, so the rows/s with the log on fall by about the log's share of the CPU a row "
              "costs; where the writer also inserts fewer rows a second than the worker answers, the queue fills "
              "and requests wait for it (the waits), so the worker goes at the writer's pace instead of losing rows. "
              "The writer parses each request's body, encodes each row's inputs and outputs as JSON and inserts "
              "one table row per logged row (into three B-trees: the table, the `at` index and the (model, "
              "version, at) index), up to 40 handed-over batches in one transaction."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
