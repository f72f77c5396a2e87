"""Streaming batch prediction: time and peak memory of `kiln predict` on a big file.

    python benchmarks/predict_stream.py [--rows 1000000] [--no-write]

The input is the AI4I 2020 file (tests/data) repeated to `--rows` rows, written as Parquet.
One model: a single LightGBM trained on AI4I (the streaming tests use the same one), so
the figures are about reading, checking and writing, not about a slow ensemble.

- *in memory*: what `kiln predict` did before streaming, in a child process:
  `read_table` of the whole file, `Model.predictions_frame`, `write_table`.
- *streamed*: `kiln predict MODEL big.parquet --out preds.parquet` as a user runs it, with
  its default chunks, then with `KILN_MEMORY_LIMIT=64MiB` (smaller chunks).
- *baseline*: `kiln predict` on the first 10,000 rows: Python, the libraries and the model.

Peak RSS is the kernel's (ru_maxrss of the waited-for child). Each run is a fresh process.
Writes the section "predict-stream" of benchmarks/RESULTS.md; the README quotes it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from sections import write_section  # noqa: E402

AI4I = HERE.parent / "tests" / "data" / "ai4i2020.csv"
TARGET = "Machine failure"
MiB = 1024 * 1024
IN_MEMORY = """
import sys
import kiln
from kiln.data.load import read_table
from kiln.data.write import write_table
write_table(kiln.load(sys.argv[1]).predictions_frame(read_table(sys.argv[2])), __import__("pathlib").Path(sys.argv[3]))
"""


def run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one child process, which must succeed."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(command)} exited with {code}: {errors.read().decode()}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-write", action="store_true", help="print the section; leave RESULTS.md alone")
    args = parser.parse_args()

    import pandas as pd

    import kiln

    kiln_command = str(Path(sys.executable).with_name("kiln"))
    env = {**os.environ}
    env.pop("KILN_MEMORY_LIMIT", None)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        table = pd.read_csv(AI4I).drop(columns=["TWF", "HDF", "PWF", "OSF", "RNF"])
        model = kiln.train(table, target=TARGET, time_limit=20, max_trials=1, n_jobs=1, learners=["lightgbm"],
                           quiet=True)
        bundle = kiln.save(model, folder / "bundle")
        features = table.drop(columns=TARGET)
        repeats = -(-args.rows // len(features))
        big = pd.concat([features] * repeats, ignore_index=True).iloc[:args.rows]
        in_memory_mib = big.memory_usage(deep=True).sum() / MiB
        big.to_parquet(folder / "big.parquet", index=False)
        big.iloc[:10_000].to_parquet(folder / "small.parquet", index=False)
        file_mib = (folder / "big.parquet").stat().st_size / MiB
        del big

        def predict(source: str, out: str, **extra: str) -> tuple[float, float]:
            return run([kiln_command, "predict", str(bundle), str(folder / source), "--out", str(folder / out)],
                       {**env, **extra})

        baseline = predict("small.parquet", "small.parquet.out.parquet")
        whole = run([sys.executable, "-c", IN_MEMORY, str(bundle), str(folder / "big.parquet"),
                     str(folder / "whole.parquet")], env)
        streamed = predict("big.parquet", "streamed.parquet")
        capped = predict("big.parquet", "capped.parquet", KILN_MEMORY_LIMIT=str(64 * MiB))
        same = pd.read_parquet(folder / "whole.parquet").equals(pd.read_parquet(folder / "streamed.parquet"))
    load_after = os.getloadavg()[0]

    def row(name: str, measured: tuple[float, float]) -> str:
        wall, peak = measured
        return f"| {name} | {wall:.1f} s | {peak:,.0f} MiB | {peak - baseline[1]:+,.0f} MiB |"

    body = "\n".join([
        "## Streaming batch prediction: `kiln predict` on a big file",
        "",
        f"`python benchmarks/predict_stream.py --rows {args.rows}`: AI4I 2020 repeated to {args.rows:,} rows "
        f"({in_memory_mib:,.0f} MiB as a pandas table, {file_mib:,.0f} MiB of Parquet), one LightGBM, "
        f"{os.cpu_count()} cores; every run a fresh process; 1-minute load average {load_before:.1f} before, "
        f"{load_after:.1f} after (above the core count, wall times include waiting for a core).",
        "",
        "| how | wall time | peak RSS | above the 10,000-row run |",
        "|---|---|---|---|",
        row("10,000 rows (baseline: Python, libraries, model)", baseline),
        row("whole table in memory (what `kiln predict` did before streaming)", whole),
        row("streamed, default chunks", streamed),
        row("streamed, `KILN_MEMORY_LIMIT=64MiB`", capped),
        "",
        f"Streamed and in-memory predictions identical: {'yes' if same else '**no**'}.",
    ])
    if args.no_write:
        print(body)
    else:
        write_section("predict-stream", body)
        print(body)


if __name__ == "__main__":
    main()
