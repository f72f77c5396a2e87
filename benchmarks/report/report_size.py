"""Size of the evaluation report of a 50,000-row table, and how long Chromium takes to open it.

Target: under 5 MB, opens in under 3 s. A quick model is trained on 5,000 rows of a
synthetic labelled table (binary, then regression), `kiln evaluate` scores all 50,000
rows as a user runs it (SHAP summary included), and headless Chromium loads the page
and dumps its DOM once every chart's script has run (wall time of the process, median of 3,
a fresh profile each time; an empty page's time is shown for the browser's own start-up).

    python benchmarks/report/report_size.py [--rows 50000] [--train-rows 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sections import write_section

import kiln

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TARGET_BYTES = 5_000_000
TARGET_SECONDS = 3.0


def synthetic(task: str, rows: int, seed: int = 0) -> pd.DataFrame:
    """A table with numeric, categorical and noise columns whose target depends on some of them."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(0, 1, rows) for i in range(8)})
    frame["grade"] = rng.choice(["A", "B", "C", "D"], rows, p=[0.4, 0.3, 0.2, 0.1])
    frame["region"] = rng.choice([f"r{i}" for i in range(12)], rows)
    signal = (1.2 * frame["x0"] - 0.8 * frame["x1"] + 0.5 * frame["x2"] * frame["x3"]
              + frame["grade"].map({"A": 0.0, "B": 0.4, "C": 0.9, "D": 1.5}))
    if task == "binary":
        frame["target"] = (rng.random(rows) < 1 / (1 + np.exp(-(signal - 2.0)))).astype("int64")
    else:
        frame["target"] = 10 * signal + rng.normal(0, 3, rows)
    return frame


def open_seconds(page: Path) -> float:
    """Wall time of headless Chromium loading `page` and dumping its DOM, with a fresh profile."""
    with tempfile.TemporaryDirectory() as profile:
        started = time.perf_counter()
        done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                              capture_output=True, text=True, timeout=120)
        elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed on {page}: {done.stderr[-1000:]}")
    return elapsed


def measure(task: str, rows: int, train_rows: int, runs: int, folder: Path) -> dict:
    table = synthetic(task, rows)
    data = folder / f"{task}.csv"
    table.to_csv(data, index=False)
    started = time.perf_counter()
    kiln.save(kiln.train(table.sample(train_rows, random_state=0), target="target", time_limit=20, quiet=True),
              folder / f"{task}-model")
    trained = time.perf_counter() - started
    page = folder / f"{task}-report.html"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kiln.cli", "evaluate", str(folder / f"{task}-model"), str(data),
                    "--out", str(page)], check=True, capture_output=True, text=True, timeout=600)
    evaluated = time.perf_counter() - started
    text = page.read_text()
    times = [open_seconds(page) for _ in range(runs)]
    return {"task": task, "bytes": page.stat().st_size, "charts": text.count('class="plotly-graph-div"'),
            "shap": 'id="figure-shap-bar"' in text, "open": statistics.median(times), "slowest": max(times),
            "train": trained, "evaluate": evaluated}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--train-rows", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results = [measure(task, args.rows, args.train_rows, args.runs, folder) for task in ("binary", "regression")]
        blank = folder / "blank.html"
        blank.write_text("<!DOCTYPE html><title>blank</title>")
        empty = statistics.median(open_seconds(blank) for _ in range(args.runs))
    lines = []
    for r in results:
        verdict = "meets" if r["bytes"] < TARGET_BYTES and r["open"] < TARGET_SECONDS else "MISSES"
        lines.append(f"| {r['task']} | {r['bytes'] / 1e6:.2f} MB | {r['charts']} | {'yes' if r['shap'] else 'no'} "
                     f"| **{r['open']:.2f} s** (slowest {r['slowest']:.2f} s) | {r['evaluate']:.1f} s | {verdict} |")
    cores = os.cpu_count()
    body = f"""## Evaluation report of a 50,000-row table

Target: under 5 MB, opens in under 3 s. Synthetic labelled table of {args.rows:,} rows (8 numeric,
2 categorical columns); a model trained on {args.train_rows:,} of them (`time_limit=20`), then
`kiln evaluate` on all {args.rows:,} (SHAP summary on 300 sampled rows). *Opens in*: wall time of
headless Chromium (`--dump-dom`, fresh profile) loading the file and running every chart's script,
median of {args.runs}; an empty page takes {empty:.2f} s (the browser's own start-up).
{time.strftime('%Y-%m-%d')}, {cores} cores.

| task | report size | charts | SHAP | opens in | `kiln evaluate` | target |
|---|---|---|---|---|---|---|
{chr(10).join(lines)}
"""
    write_section("report", body)
    print(body)


if __name__ == "__main__":
    main()
