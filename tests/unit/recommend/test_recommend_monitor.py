"""Live metrics from served lists and clicks, and the catalogue-drift rule (no database: frames in, result out)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from kiln.monitor.alerts import AlertRules
from kiln.monitor.recommend import RecommendTraffic, assess_traffic
from kiln.recommenders.interactions import Columns
from kiln.recommenders.model import RecommenderModel
from kiln.recommenders.popular import MostPopular


def _model(n_users: int = 50, n_items: int = 30) -> RecommenderModel:
    rng = np.random.default_rng(0)
    weights = 1.0 / np.arange(1, n_items + 1)  # item 0 most popular
    rows = [(u, i) for u in range(n_users) for i in rng.choice(n_items, 6, replace=False, p=weights / weights.sum())]
    seen = sp.csr_matrix((np.ones(len(rows), np.float32), tuple(np.array(rows).T)), shape=(n_users, n_items))
    popular = MostPopular()
    popular.n_items, popular.popularity = n_items, np.asarray(seen.sum(axis=0)).ravel().astype(np.float32)
    return RecommenderModel(users=np.array([f"u{u}" for u in range(n_users)], dtype=object),
                            items=np.array([str(i) for i in range(n_items)], dtype=object), seen=seen,
                            components=[(popular, 1.0)], popularity=popular.popularity, columns=Columns("u", "i"))


def test_a_click_is_judged_against_the_newest_list_served_before_it() -> None:
    served = pd.DataFrame({"at": [1.0, 2.0, 3.0], "request_id": ["a", "b", "c"], "user": ["u1", "u1", "u2"],
                           "k": [3, 3, 3], "cold_start": [False, False, True],
                           "items": [["5", "6", "7"], ["8", "9", "10"], ["1", "2", "3"]]})
    clicks = pd.DataFrame({"at": [2.5, 3.5, 0.5], "user": ["u1", "u2", "u3"], "item": ["9", "4", "1"]})
    result = assess_traffic(_model(), RecommendTraffic(served, clicks), name="m", version="1",
                            rules=AlertRules(min_rows=1), windows=1)
    overall = result.overall
    assert overall["clicks"] == 2  # u3's click came before any list was served to them: not judged
    assert overall["hit_rate"]["value"] == 0.5  # u1 clicked rank 2 of the newer list; u2 clicked an unlisted item
    assert overall["ndcg"]["value"] == pytest.approx(0.5 / math.log2(3))
    assert overall["cold_start_share"] == pytest.approx(1 / 3)


def test_popularity_shift_alerts_only_beyond_chance() -> None:
    model = _model()
    rng = np.random.default_rng(1)
    train = np.asarray(model.seen.sum(axis=0)).ravel()
    alike = rng.choice(30, 300, p=train / train.sum())
    served = pd.DataFrame({"at": [0.0], "request_id": ["a"], "user": ["u0"], "k": [3], "cold_start": [False],
                           "items": [["0", "1", "2"]]})

    def clicks(items: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({"at": np.arange(1, len(items) + 1, dtype=float), "user": "u0", "item": items.astype(str)})

    quiet = assess_traffic(model, RecommendTraffic(served, clicks(alike)), name="m", version="1",
                           rules=AlertRules(min_rows=1))
    assert not quiet.drift["popularity_shifted"] and not [a for a in quiet.alerts if a.rule == "popularity_shift"]
    tail = np.repeat(np.arange(25, 30), 60)  # every click on the five least popular items
    moved = assess_traffic(model, RecommendTraffic(served, clicks(tail)), name="m", version="1",
                           rules=AlertRules(min_rows=1))
    assert moved.drift["popularity_shifted"] and any(a.rule == "popularity_shift" for a in moved.alerts)
