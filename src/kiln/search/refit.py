"""Refit the chosen configurations once on all training rows.

Measured on the public suite (benchmarks/RESULTS.md, "Final models"): one model per
member refitted on all rows beat the average of its cross-validation fold models on
7 of 8 datasets, by 0.02–0.9% of the score, for 0.1–2.7 s. Boosters refit with the mean of their
folds' early-stopped round counts × 1.1 (more rows support a few more rounds). A member
whose refit would not fit in the time left keeps its fold models, so the budget holds;
the manifest records which each member got.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from kiln.data.schema import Schema
from kiln.model import FoldModel, Member
from kiln.types import Task

ROUNDS_MARGIN = 1.1
# A refit on all rows costs about one fold fit × n/(n·(k-1)/k); allow for variance.
SAFETY = 1.5
# One thread, as in the search's folds (whose times the estimate scales): on 2 busy cores a
# refit with 2 threads took 58-86 s for LightGBM (digits, 300 rounds) against 2.0 s with 1,
# and 11-19 s for a logistic regression on TF-IDF (fine_foods) against 1.9 s (OpenMP and
# BLAS threads spinning for a core someone else holds; load 7-8).
REFIT_THREADS = 1


def refit_members(members: list[Member], fit_seconds: dict[str, float], features: pd.DataFrame, y: np.ndarray,
                  schema: Schema, task: Task, n_classes: int, *, seed: int, n_folds: int, deadline: float,
                  n_threads: int, embed: bool = False) -> dict[str, str]:
    """Replace each member's fold models by one refit when time allows; returns
    member name → "all_rows" or "cv_folds"."""
    from threadpoolctl import threadpool_limits

    from kiln.learners.registry import get
    from kiln.prep.build import build_prep
    from kiln.prep.text import text_options

    fitted_on = {}
    for member in sorted(members, key=lambda m: -m.weight):
        per_fold = fit_seconds.get(member.name, 0.0) / max(n_folds, 1)
        threads = min(n_threads, REFIT_THREADS)
        estimate = SAFETY * per_fold * n_folds / max(n_folds - 1, 1) / threads + 0.2
        if time.time() + estimate > deadline:
            fitted_on[member.name] = "cv_folds"
            continue
        learner_class = get(member.learner)
        config = dict(member.config)
        rounds = [fold.learner.rounds_used() for fold in member.folds]
        if rounds and all(r is not None for r in rounds):
            config["n_rounds"] = max(1, int(np.mean(rounds) * ROUNDS_MARGIN))
        family = learner_class.tags.prep
        text = text_options(member.config) if family == "linear" and schema.of_kind("text") else None
        plan = build_prep(schema, family, task=task, text=text, seed=seed, embed=embed)
        learner = learner_class(task=task, n_classes=n_classes, params=config, seed=seed, n_threads=threads)
        with threadpool_limits(limits=threads):  # the preparation's BLAS (embeddings, SVD) too
            X = plan.transformer.fit_transform(features, y)
            learner.fit(X, y, categorical=plan.categorical, deadline=deadline)
        if learner.stopped_by_deadline_:
            fitted_on[member.name] = "cv_folds"  # a truncated refit is worse than the folds
            continue
        member.folds = [FoldModel(plan.transformer, plan.categorical, learner)]
        fitted_on[member.name] = "all_rows"
    return fitted_on
