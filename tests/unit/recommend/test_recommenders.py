"""Conformance of every recommender: shapes, no seen items, determinism, save/load equality."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from recommend_data import interactions

from kiln.recommenders.base import FitData, weighted
from kiln.recommenders.interactions import Columns, build
from kiln.recommenders.model import RecommenderModel, top_k
from kiln.recommenders.registry import RECOMMENDERS

COLUMNS = Columns("user", "item", "rating", "ts")
SMALL = {"als": {"factors": 8, "iterations": 5}, "bpr": {"factors": 8, "iterations": 20},
         "ease": {"max_items": 30}, "item_knn": {"k": 20}, "feature_hybrid": {"k": 20}}


@pytest.fixture(scope="module")
def data() -> tuple[FitData, sp.csr_matrix]:
    table = build(interactions(n_users=40, n_items=36, seed=2), COLUMNS)
    groups = np.array([int(i) % 4 for i in table.items])
    features = np.eye(4, dtype=np.float32)[groups]
    raw = table.matrix()
    return FitData(matrix=weighted(raw, "binary"), ages=table.ages(), item_features=features), raw


@pytest.mark.parametrize("name", sorted(RECOMMENDERS))
def test_fit_scores_the_whole_catalogue_for_known_and_new_users(name: str, data: tuple[FitData, sp.csr_matrix]) -> None:
    fit, _ = data
    model = RECOMMENDERS[name](**SMALL.get(name, {})).fit(fit, seed=0)
    users = np.array([0, 3, -1])
    history = fit.matrix[[0, 3, 5]]
    scores = model.scores(users, history)
    assert scores.shape == (3, fit.matrix.shape[1]) and scores.dtype == np.float32
    assert np.isfinite(scores).all()


@pytest.mark.parametrize("name", sorted(RECOMMENDERS))
def test_same_seed_same_scores_and_saved_arrays_restore_the_model(name: str,
                                                                  data: tuple[FitData, sp.csr_matrix]) -> None:
    fit, _ = data
    cls = RECOMMENDERS[name]
    first = cls(**SMALL.get(name, {})).fit(fit, seed=7)
    second = cls(**SMALL.get(name, {})).fit(fit, seed=7)
    users = np.arange(10)
    history = fit.matrix[users]
    np.testing.assert_array_equal(first.scores(users, history), second.scores(users, history))
    arrays = {k: (sp.csr_matrix(v) if sp.issparse(v) else np.array(v)) for k, v in first.arrays().items()}
    assert all((isinstance(v, np.ndarray) and v.dtype != object) or sp.issparse(v) for v in arrays.values())
    restored = cls.restore(first.params, arrays, fit.matrix.shape[1])
    np.testing.assert_array_equal(first.scores(users, history), restored.scores(users, history))


@pytest.mark.parametrize("name", sorted(RECOMMENDERS))
def test_recommendations_never_hold_seen_items_unless_asked(name: str, data: tuple[FitData, sp.csr_matrix]) -> None:
    fit, raw = data
    component = RECOMMENDERS[name](**SMALL.get(name, {})).fit(fit, seed=0)
    users = np.array([f"u{i}" for i in range(raw.shape[0])], dtype=object)
    items = np.arange(raw.shape[1]).astype(str).astype(object)
    model = RecommenderModel(users=users, items=items, seen=raw, components=[(component, 1.0)],
                             popularity=np.asarray(raw.sum(axis=0)).ravel().astype(np.float32), columns=COLUMNS)
    codes = np.arange(raw.shape[0])
    index, scores = model.recommend_codes(codes, 10)
    for row, code in enumerate(codes):
        listed = index[row][index[row] >= 0]
        assert not set(listed) & set(raw[code].indices)
        assert len(listed) == min(10, raw.shape[1] - raw[code].nnz) and len(set(listed)) == len(listed)
        assert np.all(np.diff(scores[row][: len(listed)]) <= 0)  # best first
    with_seen, _ = model.recommend_codes(codes[:1], raw.shape[1], include_seen=True)
    assert set(with_seen[0]) == set(range(raw.shape[1]))


def test_one_users_list_is_the_batch_row(data: tuple[FitData, sp.csr_matrix]) -> None:
    """The server's one-user path (row slices, no DataFrame) gives what the batch `recommend` gives."""
    fit, raw = data
    blend = [(RECOMMENDERS[n](**SMALL.get(n, {})).fit(fit, seed=0), w) for n, w in (("als", 0.6), ("item_knn", 0.4))]
    model = RecommenderModel(users=np.array([f"u{i}" for i in range(raw.shape[0])], dtype=object),
                             items=np.arange(raw.shape[1]).astype(str).astype(object), seen=raw, components=blend,
                             popularity=np.asarray(raw.sum(axis=0)).ravel().astype(np.float32), columns=COLUMNS)
    users = [f"u{i}" for i in range(raw.shape[0])] + ["stranger"]
    batch = model.recommend(users, 5)
    for user in users:
        items, scores, cold = model.recommend_user(user, 5)
        rows = batch[batch["user"] == user]
        assert items == [str(i) for i in rows["item"]] and scores == pytest.approx(list(rows["score"]), abs=1e-5)
        assert cold == (user == "stranger")
    first = model.recommend_user("u1", 5)[0]
    excluded = model.recommend_user(" u1 ", 5, exclude=first[:2])[0]  # ids match as id_keys does: stripped
    assert excluded[:3] == first[2:] and not set(excluded) & set(first[:2])
    within, _, _ = model.recommend_user("u1", 10, candidates=["0", "1", "2"])
    assert set(within) <= {"0", "1", "2"} - {str(i) for i in raw[1].indices}


def test_top_k_is_the_k_largest_best_first() -> None:
    scores = np.array([[0.1, 0.9, -np.inf, 0.5, 0.9]], dtype=np.float32)
    index, values = top_k(scores, 3)
    assert index.tolist() == [[1, 4, 3]] and values[0].tolist() == pytest.approx([0.9, 0.9, 0.5])
