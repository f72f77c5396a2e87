"""The prediction log under sustained 1,000-row batches: rows dropped and the worker CPU it costs.

    .venv/bin/python benchmarks/prediction_log.py [--seconds 20]

One thread does what a server worker does for a 1,000-row request, back to back, as fast as it
can, then paced at --rates rows/s (a server's HTTP and JSON work leave it fewer rows/s than this):
predict the rows (ONNX Runtime when the bundle has a graph, else the fast path), turn them
into predictions and probabilities, and append them to the log (`PredictionLog`, SQLite in a
temporary folder). The same loop runs without the log first. Reported: rows/s with and without
the log, rows appended, written and dropped, and the CPU the log's feeder thread spent in the
worker process against the worker's whole CPU (the writer process's own CPU is its own, on the
other core). The model is benchmarks/serving_onnx.py's LightGBM (run that first).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sections import write_section  # noqa: E402

DATA = HERE.parent / "tests" / "data" / "ai4i2020.csv"
DROPPED = ["TWF", "HDF", "PWF", "OSF", "RNF", "Machine failure"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("/tmp/kiln-onnx-bench/model_0_onnx"))
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rates", type=lambda text: [float(v) for v in text.split(",")], default=[5_000, 10_000],
                        help="paced runs at these rows/s (comma-separated)")
    args = parser.parse_args()

    import pandas as pd

    from kiln.serve.served import ServedModel
    from kiln.store.prediction_log import Entry, PredictionLog

    served = ServedModel.load(str(args.model))
    frame = pd.read_csv(DATA).drop(columns=DROPPED).head(1_000)
    from kiln.serve.decode import decode_records

    records = frame.to_dict(orient="records")
    decoded = decode_records(records, served.model.schema)

    def request() -> tuple[list, list | None]:
        return served.outputs(served.predict_raw(decoded))

    def loop(log: PredictionLog | None, rate: float | None = None) -> tuple[float, int, float]:
        answered, cpu0, started = 0, time.process_time(), time.perf_counter()
        while time.perf_counter() - started < args.seconds:
            if rate is not None:  # a paced client: the next request when its time comes
                time.sleep(max(0.0, started + answered / rate - time.perf_counter()))
            predictions, probabilities = request()
            if log is not None:
                log.append(Entry(f"r{answered}", served.name, served.version, time.time(), served.logged_columns,
                                 decoded.records, predictions, probabilities))
            answered += len(records)
        return answered / (time.perf_counter() - started), answered, time.process_time() - cpu0

    off_rate, _, _ = loop(None)
    load_off = os.getloadavg()[0]
    runs = []
    for rate in [None, *args.rates]:
        with tempfile.TemporaryDirectory() as folder:
            log = PredictionLog(f"sqlite:///{folder}/log.db")
            on_rate, answered, worker_cpu = loop(log, rate)
            load_on = os.getloadavg()[0]
            log.close(timeout=300)
            runs.append((rate, on_rate, answered, log.written, log.dropped, log.cpu_s, worker_cpu, load_on))
    table = []
    for rate, on_rate, answered, written, dropped, feeder_cpu, worker_cpu, load_on in runs:
        name = "log on, as fast as it goes" if rate is None else f"log on, paced at {rate:,.0f} rows/s"
        table.append(f"| {name} | {on_rate:,.0f} | {answered:,} | {written:,} | {dropped:,} | "
                     f"{feeder_cpu:.2f} s of {worker_cpu:.2f} s ({100 * feeder_cpu / max(worker_cpu, 1e-9):.1f}%) | "
                     f"{load_on:.1f} |")
    body = "\n".join([
        "## Prediction log under sustained 1,000-row batches", "",
        f"One worker thread predicting 1,000-row requests back to back for {args.seconds:g} s ({served.engine}, "
        "AI4I LightGBM), appending each to the log (SQLite; a writer process inserts).", "",
        "| | rows/s | rows answered | written | dropped | log's CPU in the worker | load |",
        "|---|---|---|---|---|---|---|",
        f"| log off | {off_rate:,.0f} | | | | | {load_off:.1f} |",
        *table,
        "", f"As fast as it goes, with the log on: {100 * runs[0][1] / off_rate:.0f}% of the rows/s without it; the "
        "writer process shares the machine's two cores with the worker and, here, with other people's work.",
    ])
    print(body)
    write_section("prediction-log", body)


if __name__ == "__main__":
    main()
