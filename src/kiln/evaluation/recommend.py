"""A trained recommender judged on interactions it did not train on: full-catalogue ranking, seen excluded.

Shared by `kiln evaluate` (report), the retrain gate and the benchmark: each known user's held-out items
(those not already seen in training) are the relevant set; the model's top k and the cold-start
(most-popular) list are scored per user, so the two can be compared with a paired test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kiln.errors import InvalidDataError
from kiln.evaluation.ranking import (
    bootstrap_coverage,
    bootstrap_mean,
    paired_test,
    per_user_metrics,
    popularity_bias,
    popularity_percentiles,
)
from kiln.recommenders.model import RecommenderModel, top_k

K = 10


@dataclass
class HeldOut:
    """Per judged user: the model's and the popularity baseline's per-user metrics."""

    users: np.ndarray  # codes
    model: dict[str, np.ndarray]
    baseline: dict[str, np.ndarray]
    model_index: np.ndarray
    baseline_index: np.ndarray
    unknown_users: int
    unknown_items: int
    rows: int

    def summary(self, n_items: int, percentiles: np.ndarray, *, seed: int = 0) -> dict[str, Any]:
        def block(metrics: dict[str, np.ndarray], index: np.ndarray) -> dict[str, Any]:
            out = {f"{name}@{K}" if name != "mrr" else name: bootstrap_mean(metrics[name], seed=seed).to_dict()
                   for name in ("ndcg", "recall", "map", "mrr")}
            out[f"coverage@{K}"] = bootstrap_coverage(index, n_items, seed=seed).to_dict()
            out["popularity_bias"] = bootstrap_mean(popularity_bias(index, percentiles, K), seed=seed).to_dict()
            return out

        return {"users": len(self.users), "rows": self.rows, "unknown_users": self.unknown_users,
                "unknown_items": self.unknown_items, "model": block(self.model, self.model_index),
                "most_popular": block(self.baseline, self.baseline_index),
                "paired_test": paired_test(self.model["ndcg"], self.baseline["ndcg"],
                                           names=("model", "most_popular"), seed=seed).to_dict()}


def relevant_by_user(model: RecommenderModel, frame: pd.DataFrame) -> tuple[np.ndarray, list[np.ndarray], int, int]:
    """(user codes, their held-out item codes not seen in training, rows of unknown users, of unknown items)."""
    columns = model.columns
    for name in (columns.user, columns.item):
        if name not in frame.columns:
            role = "user" if name == columns.user else "item"
            raise InvalidDataError(f"The data has no column '{name}' (the model's {role} column); it must hold the "
                                   "interactions to judge the model on.")
    table = frame.dropna(subset=[columns.user, columns.item])
    users = model.user_codes(table[columns.user])
    items = model.item_codes(table[columns.item])
    unknown_users, unknown_items = int((users < 0).sum()), int(((items < 0) & (users >= 0)).sum())
    keep = (users >= 0) & (items >= 0)
    users, items = users[keep], items[keep]
    if len(users):
        already = np.asarray(model.seen[users, items]).ravel() != 0
        users, items = users[~already], items[~already]
    if len(users) == 0:
        raise InvalidDataError("No row of the data pairs a user the model knows with an item it has not seen them "
                               "with; give newer interactions of the training users.")
    frame_codes = pd.DataFrame({"u": users, "i": items}).drop_duplicates()
    grouped = frame_codes.groupby("u")["i"].apply(lambda s: s.to_numpy())
    return grouped.index.to_numpy(dtype=np.int64), list(grouped.to_numpy()), unknown_users, unknown_items


def judge_on(model: RecommenderModel, frame: pd.DataFrame) -> HeldOut:
    """The model and the popularity baseline on `frame`'s interactions (full catalogue, seen excluded)."""
    codes, relevant, unknown_users, unknown_items = relevant_by_user(model, frame)
    index, _ = model.recommend_codes(codes, K)
    baseline = np.broadcast_to(model.cold_start(), (len(codes), model.n_items)).copy()
    seen = model.seen[codes]
    rows = np.repeat(np.arange(len(codes)), np.diff(seen.indptr))
    baseline[rows, seen.indices] = -np.inf
    baseline_index, _ = top_k(baseline, K)
    return HeldOut(codes, per_user_metrics(index, relevant, K), per_user_metrics(baseline_index, relevant, K),
                   index, baseline_index, unknown_users, unknown_items, len(frame))


def item_percentiles(model: RecommenderModel) -> np.ndarray:
    return popularity_percentiles(np.asarray((model.seen > 0).sum(axis=0)).ravel())
