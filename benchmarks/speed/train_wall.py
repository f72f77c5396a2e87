"""Does the whole `kiln train --time-limit 60` command end within 60 s on the public suites?

Three tables the benchmark suites train on at --time-limit 60 (../shared/bench/text_suite.md,
../shared/bench/image_suite.md): fine_foods and ucla_courses (a text column and a label) and the
digits pixel table (1,347 rows × 64 columns, 10 classes; the image suite's tabular contract). Each
`kiln train ... --quiet` runs as its own process, timed whole from outside (interpreter start,
reading, search, ensemble, evaluation report, bundle); then `kiln predict` on the suite's test rows
gives the headline metric, so a faster command is seen not to cost accuracy. The 1-minute load
average is read before each run (2 shared cores).

    python benchmarks/speed/train_wall.py --label LABEL [--source SRC] [--datasets ...] [--write]

`--source SRC` runs the `src/` folder of another checkout (`PYTHONPATH=SRC`, e.g. a
`git worktree add /tmp/kiln-before COMMIT`), recording that checkout's commit. Each run is
stored in benchmarks/speed/results/train_wall__LABEL__DATASET.json; `--write` puts every stored
run into the "train-wall" section of benchmarks/RESULTS.md (labels starting "before" first).
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

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "text"))
from sections import AT_START, write_section

HERE = Path(__file__).resolve().parent

RESULTS_DIR = HERE / "results"
DATASETS = ("fine_foods", "ucla_courses", "digits")
HEADLINE = {"fine_foods": "roc_auc", "ucla_courses": "log_loss", "digits": "log_loss"}
TIME_LIMIT = 60.0


def tables(name: str) -> tuple[pd.DataFrame, pd.DataFrame, str, pd.Series]:
    """(train table, test features, target column, test labels) of one suite dataset."""
    if name == "digits":
        from sklearn.datasets import load_digits

        sys.path.insert(0, str(HERE.parents[1] / "src"))
        from kiln.demo.digits import suite_split

        digits = load_digits()
        train, test = suite_split()
        columns = [f"p{i}" for i in range(64)]
        frame = pd.DataFrame(digits.data[train], columns=columns).assign(digit=digits.target[train])
        return frame, pd.DataFrame(digits.data[test], columns=columns), "digit", pd.Series(digits.target[test])
    from run import load  # benchmarks/text/run.py: the text suite's split

    train, test, text, target = load(name)
    return train, test[[text]], target, test[target]


def headline(name: str, truth: pd.Series, predictions: pd.DataFrame) -> float:
    from sklearn.metrics import log_loss, roc_auc_score

    classes = sorted(truth.unique())
    proba = np.clip(predictions[[f"proba_{c}" for c in classes]].to_numpy(dtype=float), 1e-15, 1)
    proba /= proba.sum(axis=1, keepdims=True)
    codes = truth.map({c: i for i, c in enumerate(classes)}).to_numpy()
    if name == "fine_foods":
        return float(roc_auc_score(codes == classes.index("great"), proba[:, classes.index("great")]))
    return float(log_loss(codes, proba, labels=list(range(len(classes)))))


def run(name: str, time_limit: float, source: str | None = None) -> dict:
    train, test, target, truth = tables(name)
    env = {**os.environ, "PYTHONPATH": source} if source else None
    with tempfile.TemporaryDirectory(prefix="kiln-wall-") as folder:
        root = Path(folder)
        train.to_csv(root / "train.csv", index=False)
        test.to_csv(root / "test.csv", index=False)
        load = os.getloadavg()[0]
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kiln.cli", "train", str(root / "train.csv"), "--target", target,
                        "--time-limit", str(time_limit), "--out", str(root / "model"), "--quiet"],
                       check=True, capture_output=True, env=env)
        wall = time.perf_counter() - started
        manifest = json.loads((root / "model" / "kiln.json").read_text())
        subprocess.run([sys.executable, "-m", "kiln.cli", "predict", str(root / "model"), str(root / "test.csv"),
                        "--out", str(root / "preds.csv")], check=True, capture_output=True, env=env)
        predictions = pd.read_csv(root / "preds.csv", keep_default_na=False)
    if name == "digits":
        truth = truth.astype(str)
    training = manifest["training"]
    return {"wall_s": wall, "manifest_s": training["seconds"], "trials": training["trials"],
            "load": load, "metric": HEADLINE[name], "value": headline(name, truth, predictions),
            "cv_model": manifest["cv"]["model"], "time_limit": time_limit, "commit": _commit(source),
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def _commit(source: str | None) -> str:
    if source is None:
        return AT_START
    done = subprocess.run(["git", "-C", source, "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True)
    return f"{done.stdout.strip() or 'unknown'} (checkout at {source})"


def section() -> str:
    lines = [f"## Whole `kiln train --time-limit {TIME_LIMIT:g}` command on the suites' tables", "",
             "Wall seconds of the train command as its own process (interpreter start to bundle written), the "
             "manifest's own `training.seconds` (the budget's accounting, up to the end of assembling the model) "
             "and the headline metric of `kiln predict` on the suite's test rows; load = 1-minute load average "
             "before the run, 2 shared cores. Runs labelled before* measure kiln without the whole-command time "
             "accounting (the first trial's folds shared with the pool and ending by the limit less the report's "
             "time, one-thread refits, skops imported during the search, per-class recall vectorised; e59090f to "
             "2ee49d0), `after` with it; other engineers' commits between them change the models too.", "",
             "| dataset | run | commit | load | wall s | manifest s | trials | headline on test | model |",
             "|---|---|---|---:|---:|---:|---:|---|---|"]
    stored = sorted(RESULTS_DIR.glob("train_wall__*.json"), key=lambda p: (not p.name.split("__")[1].startswith(
        "before"), p.name))
    for name in DATASETS:
        for path in stored:
            label = path.name.split("__")[1]
            if path.name != f"train_wall__{label}__{name}.json":
                continue
            r = json.loads(path.read_text())
            arrow = "↑" if r["metric"] == "roc_auc" else "↓"
            lines.append(f"| {name} | {label} | {r['commit'].split(',')[0]} | {r['load']:.1f} | {r['wall_s']:.1f} | "
                         f"{r['manifest_s']:.1f} | {r['trials']} | {r['metric']} {arrow} {r['value']:.4f} | "
                         f"{r['cv_model']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", default="after", help="a name for these runs (letters, digits, -)")
    parser.add_argument("--source", help="src/ folder of another checkout to run instead")
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--time-limit", type=float, default=TIME_LIMIT)
    parser.add_argument("--write", action="store_true", help="RESULTS.md from every stored run")
    args = parser.parse_args()
    RESULTS_DIR.mkdir(exist_ok=True)
    for name in args.datasets:
        result = run(name, args.time_limit, args.source)
        (RESULTS_DIR / f"train_wall__{args.label}__{name}.json").write_text(json.dumps(result, indent=1))
        print(args.label, name, json.dumps(result), flush=True)
    body = section()
    print(body)
    if args.write:
        write_section("train-wall", body)


if __name__ == "__main__":
    main()
