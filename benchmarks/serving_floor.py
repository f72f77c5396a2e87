"""The floor under a served prediction: `Model.predict_raw` against the compiled fast path,
with no HTTP in between.

    python benchmarks/serving_floor.py MODEL_DIR [--data TABLE] [--runs 300]

Rows come from `--data` (a table with the model's columns; the first 1,000 are used) or,
without it, from the fast path's synthetic rows. Prints microseconds per row for one
row and for a 1,000-row batch: median, 90th percentile and best run (the best shows the
floor on a machine busy with other work), and rows per second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

import kiln
from kiln.data.load import read_table
from kiln.export.onnx import columns_from_frame
from kiln.export.synthetic import synthetic_columns
from kiln.serve.fast_path import FastPredictor

BATCH_ROWS = 1_000


def timings(call: Callable[[], object], runs: int) -> list[float]:
    call()  # warm caches and lazy imports
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        out.append(time.perf_counter() - started)
    return out


def rows_of(model: kiln.Model, data: str | None) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A 1,000-row table and the same rows as decoded columns."""
    if data:
        frame = read_table(data).head(BATCH_ROWS)
        frame = pd.concat([frame] * -(-BATCH_ROWS // len(frame)), ignore_index=True).head(BATCH_ROWS)
        return frame, columns_from_frame(frame, model.schema)
    columns = synthetic_columns(model.schema, BATCH_ROWS)
    return pd.DataFrame(columns), columns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a bundle folder (kiln.load)")
    parser.add_argument("--data", help="a table with the model's columns (default: synthetic rows)")
    parser.add_argument("--runs", type=int, default=300, help="one-row repetitions of the fast path")
    args = parser.parse_args()

    model = kiln.load(args.model)
    frame, columns = rows_of(model, args.data)
    started = time.perf_counter()
    predictor = FastPredictor.compile(model)
    compile_seconds = time.perf_counter() - started
    one_frame = frame.head(1)
    one_columns = {name: values[:1] for name, values in columns.items()}
    np.testing.assert_allclose(predictor.predict_raw(columns, BATCH_ROWS), model.predict_raw(frame),
                               rtol=1e-6, atol=1e-9)

    slow_runs = max(10, args.runs // 20)
    measured = {
        "Model.predict_raw, 1 row": (timings(lambda: model.predict_raw(one_frame), slow_runs), 1),
        "fast path, 1 row": (timings(lambda: predictor.predict_raw(one_columns, 1), args.runs), 1),
        f"Model.predict_raw, {BATCH_ROWS} rows": (timings(lambda: model.predict_raw(frame), 5), BATCH_ROWS),
        f"fast path, {BATCH_ROWS} rows": (timings(lambda: predictor.predict_raw(columns, BATCH_ROWS), 5),
                                          BATCH_ROWS),
    }
    members = ", ".join(f"{m.learner}×{len(m.folds)}" for m in model.members)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"model: {args.model}  ({model.task}; members: {members})")
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f}; compile + self-check {compile_seconds:.1f} s")
    print(f"not compiled: {predictor.slow_parts or 'nothing'}")
    print(f"{'':<32}{'µs/row p50':>12}{'p90':>12}{'best':>12}{'rows/s p50':>12}")
    for name, (seconds, n) in measured.items():
        p50, p90, best = statistics.median(seconds) / n, float(np.percentile(seconds, 90)) / n, min(seconds) / n
        print(f"{name:<32}{p50 * 1e6:>12,.1f}{p90 * 1e6:>12,.1f}{best * 1e6:>12,.1f}{1 / p50:>12,.0f}")


if __name__ == "__main__":
    main()
