"""The prediction log under sustained 1,000-row batches: rows dropped and the worker CPU it costs.

    .venv/bin/python benchmarks/prediction_log.py [--seconds 20]

One thread does what a server worker does for a 1,000-row request, back to back, as fast as it
can: predict the rows (ONNX Runtime when the bundle has a graph, else the fast path), turn them
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

    def loop(log: PredictionLog | None) -> tuple[float, int, float]:
        answered, cpu0, started = 0, time.process_time(), time.perf_counter()
        while time.perf_counter() - started < args.seconds:
            predictions, probabilities = request()
            if log is not None:
                log.append(Entry(f"r{answered}", served.name, served.version, time.time(), served.logged_columns,
                                 decoded.records, predictions, probabilities))
            answered += len(records)
        return answered / (time.perf_counter() - started), answered, time.process_time() - cpu0

    off_rate, _, _ = loop(None)
    load_off = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        log = PredictionLog(f"sqlite:///{folder}/log.db")
        on_rate, answered, worker_cpu = loop(log)
        load_on = os.getloadavg()[0]
        log.close(timeout=300)
        feeder_cpu = log.cpu_s
    body = "\n".join([
        "## Prediction log under sustained 1,000-row batches", "",
        f"One worker thread predicting 1,000-row requests back to back for {args.seconds:g} s ({served.engine}, "
        "AI4I LightGBM), appending each to the log (SQLite; a writer process inserts).", "",
        "| | rows/s | rows answered | written | dropped | log's CPU in the worker | load |",
        "|---|---|---|---|---|---|---|",
        f"| log off | {off_rate:,.0f} | | | | | {load_off:.1f} |",
        f"| log on | {on_rate:,.0f} | {answered:,} | {log.written:,} | {log.dropped:,} | "
        f"{feeder_cpu:.2f} s of {worker_cpu:.2f} s ({100 * feeder_cpu / max(worker_cpu, 1e-9):.1f}%) | {load_on:.1f} |",
        "", f"With the log on: {100 * on_rate / off_rate:.0f}% of the rows/s without it.",
    ])
    print(body)
    write_section("prediction-log", body)


if __name__ == "__main__":
    main()
