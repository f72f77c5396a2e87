"""`kiln train` on a busy machine: is the model still useful, and is no unlearned member kept?

For each --time-limit, the whole command runs twice on a 772-row, 8-column regression
table (Friedman #1, generated; the target's standard deviation is 16.4): once quiet, once
while one pure-Python spin loop per core holds every core. It reports the wall time, the
CV RMSE (mean of folds) of each, the trials by status, and the fewest boosting rounds of
any fold model the busy run kept (MIN_ROUNDS is the least a stopped fold may have).
Writes the "time-budget-busy" section of benchmarks/RESULTS.md.

    python benchmarks/speed/busy_machine.py [--limits 10 30 60]

"Quiet" means no spinners of ours: other work on the machine is reported as the load
average when each run started.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sections import write_section

SPIN = "import time\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"


def make_table(path: Path) -> float:
    import pandas as pd
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(n_samples=772, n_features=8, noise=1.0, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)]).assign(y=3.4 * y)
    frame.to_csv(path, index=False)
    return float(frame["y"].std(ddof=0))


def train(table: Path, limit: float, out: Path, busy: bool) -> dict:
    import pandas as pd

    import kiln

    spinners = [subprocess.Popen([sys.executable, "-c", SPIN.format(seconds=4 * limit + 60)])
                for _ in range(os.cpu_count() or 2)] if busy else []
    try:
        time.sleep(0.5 if busy else 0.0)
        load = os.getloadavg()[0]
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "kiln.cli", "train", str(table), "--target", "y",
                               "--time-limit", str(limit), "--out", str(out), "--quiet"],
                              capture_output=True, text=True)
        wall = time.perf_counter() - started
    finally:
        for process in spinners:
            process.kill()
            process.wait()
    if done.returncode != 0:
        return {"limit": limit, "busy": busy, "load": load, "wall": wall, "error": done.stderr.strip()[-160:]}
    manifest = json.loads((out / "kiln.json").read_text())
    board = pd.read_csv(out / "leaderboard.csv")
    model = kiln.load(out)
    rounds = [fold.learner.rounds_used() for member in model.members for fold in member.folds]
    rounds = [r for r in rounds if r is not None]
    statuses = board[board["learner"] != "ensemble"]["status"].value_counts().to_dict()
    return {"limit": limit, "busy": busy, "load": load, "wall": wall, "score": manifest["cv"]["score"],
            "trained": manifest["training"]["seconds"], "not_sent": manifest["training"].get("trials_not_sent", 0),
            "model": manifest["cv"]["model"], "statuses": statuses, "min_rounds": min(rounds, default=None),
            "members": len(model.members)}


def main() -> None:
    from kiln.search.engine import MIN_ROUNDS

    parser = argparse.ArgumentParser()
    parser.add_argument("--limits", type=float, nargs="+", default=[10, 30, 60])
    limits = parser.parse_args().limits
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "friedman_772.csv"
        std = make_table(table)
        rows = [train(table, limit, Path(tmp) / f"{'busy' if busy else 'quiet'}_{limit:g}", busy)
                for limit in limits for busy in (False, True)]
    lines = ["| --time-limit | machine | load avg | wall s (training) | CV RMSE | model (members) | "
             "trials by status | fewest rounds kept |", "|---:|:--|---:|---:|---:|:--|:--|---:|"]
    for r in rows:
        machine = f"busy ({os.cpu_count()} spinners)" if r["busy"] else "quiet"
        if "error" in r:
            lines.append(f"| {r['limit']:g} | {machine} | {r['load']:.1f} | {r['wall']:.1f} | failed | "
                         f"{r['error']} | | |")
            continue
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items()))
        statuses += f"; not sent {r['not_sent']}" if r["not_sent"] else ""
        lines.append(f"| {r['limit']:g} | {machine} | {r['load']:.1f} | {r['wall']:.1f} ({r['trained']:.1f}) | "
                     f"{r['score']:.3f} | "
                     f"{r['model']} ({r['members']}) | {statuses} | {r['min_rounds']} |")
    body = (f"## Time budget on a busy machine: 772 rows × 8 columns, regression\n\n"
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} at commit {commit} by "
            f"`benchmarks/speed/busy_machine.py` on this {os.cpu_count()}-core machine. Target standard "
            f"deviation (the RMSE of predicting the mean) {std:.2f}. \"busy\": one pure-Python spin loop per "
            f"core for the whole command; wall s: the whole `kiln train` process; (training): from the "
            f"command's start to the model assembled, before the bundle is written; load avg: the machine's "
            f"1-minute load when the run started (other work included). A fold the deadline stops is kept "
            f"only with at least {MIN_ROUNDS} rounds and a "
            f"score better than the baseline's; \"fewest rounds kept\" is over every kept fold or refit model.\n\n"
            + "\n".join(lines))
    write_section("time-budget-busy", body)
    print(body)


if __name__ == "__main__":
    main()
