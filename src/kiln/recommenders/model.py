"""A trained recommender as kiln serves it: the id maps, the seen-items index, the blend of
recommenders with their weights, and the cold-start list.

Top-k is a matrix product and `argpartition` (never a full sort): the blend's per-user z-scores
over the whole catalogue, the seen items (and any excluded ones) set to -inf, the k best picked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kiln.recommenders.base import Recommender, weighted
from kiln.recommenders.content import standardise_rows
from kiln.recommenders.interactions import Columns, id_keys

CHUNK = 512  # users scored at once: 512 × 10,000 items × 4 bytes = 20 MB per component


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the indices and scores of the k largest finite scores, best first (ties: lower index)."""
    n_rows, n_cols = scores.shape
    k = min(k, n_cols)
    if k <= 0:
        return np.zeros((n_rows, 0), np.int64), np.zeros((n_rows, 0), np.float32)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < n_cols else np.tile(np.arange(n_cols), (n_rows, 1))
    picked = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -picked), axis=1)
    index = np.take_along_axis(part, order, axis=1)
    return index, np.take_along_axis(picked, order, axis=1)


@dataclass
class RecommenderModel:
    """What `kiln train --task recommend` makes and the bundle stores."""

    users: np.ndarray  # original user ids, by code
    items: np.ndarray  # original item ids, by code
    seen: sp.csr_matrix  # users × items raw weights (rating or 1) of the training interactions
    components: list[tuple[Recommender, float]]
    popularity: np.ndarray  # the cold-start ranking's scores (decayed counts)
    columns: Columns
    manifest: dict[str, Any] = field(default_factory=dict)
    leaderboard_frame: pd.DataFrame = field(default_factory=pd.DataFrame)
    kind = "recommend"
    metric = "ndcg@10"
    task = "recommend"

    def __post_init__(self) -> None:
        self._user_index = {key: i for i, key in enumerate(id_keys(self.users))}
        self._item_index = {key: i for i, key in enumerate(id_keys(self.items))}
        self._views: dict[str, sp.csr_matrix] = {}
        self._norms: np.ndarray | None = None
        self._item_out = _as_numbers(self.items)

    def warm_up(self) -> None:
        """Before serving: BLAS held to one thread in this process (a one-user product is microseconds of work;
        OpenBLAS's threads waking for it cost milliseconds, tens on a busy machine: benchmarks/recommend/serving.py),
        then one list for a known user and the cold-start list: a model that cannot do this is never served."""
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, "blas")  # for the life of the serving process, not a context
        self.recommend_codes(np.array([0, -1], dtype=np.int64), 10)

    def leaderboard(self) -> pd.DataFrame:
        return self.leaderboard_frame.copy()

    @property
    def n_items(self) -> int:
        return len(self.items)

    def user_codes(self, users: Iterable[object]) -> np.ndarray:
        """Each user's code, -1 for a user the model never saw (cold start)."""
        return _codes(self._user_index, users)

    def item_codes(self, items: Iterable[object]) -> np.ndarray:
        return _codes(self._item_index, items)

    def history(self, code: int) -> np.ndarray:
        """The item codes a training user interacted with."""
        return self.seen[code].indices.copy()

    def _view(self, weighting: str) -> sp.csr_matrix:
        if weighting not in self._views:
            self._views[weighting] = weighted(self.seen, weighting)
        return self._views[weighting]

    def scores(self, codes: np.ndarray) -> np.ndarray:
        """The blend's scores (len(codes) × items) for known users' codes (≥ 0)."""
        total = np.zeros((len(codes), self.n_items), dtype=np.float32)
        for component, weight in self.components:
            history = _rows(self._view(component.weighting), codes)
            total += np.float32(weight) * standardise_rows(component.scores(codes, history)).astype(np.float32)
        return total

    def cold_start(self) -> np.ndarray:
        return self.popularity.astype(np.float32)

    def recommend_codes(self, codes: np.ndarray, k: int, *, include_seen: bool = False,
                        exclude: Sequence[np.ndarray] | None = None,
                        candidates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(item codes, scores), each len(codes) × min(k, items); -1 / nan pad rows with fewer items.

        Unknown users (code -1) get the cold-start list; seen items are excluded unless `include_seen`;
        `exclude[i]` removes items for row i; `candidates` restricts every row to those item codes."""
        index_out = np.full((len(codes), min(k, self.n_items)), -1, dtype=np.int64)
        score_out = np.full(index_out.shape, np.nan, dtype=np.float32)
        for start in range(0, len(codes), CHUNK):
            chunk = codes[start:start + CHUNK]
            known = chunk >= 0
            block = np.empty((len(chunk), self.n_items), dtype=np.float32)
            block[~known] = self.cold_start()
            if known.any():
                block[known] = self.scores(chunk[known])
                if not include_seen and len(chunk) == 1:  # one user (a served request): the row's slice
                    code = int(chunk[0])
                    block[0, self.seen.indices[self.seen.indptr[code]:self.seen.indptr[code + 1]]] = -np.inf
                elif not include_seen:
                    seen = self.seen[chunk[known]]
                    rows = np.repeat(np.flatnonzero(known), np.diff(seen.indptr))
                    block[rows, seen.indices] = -np.inf
            if exclude is not None:
                for row, items in enumerate(exclude[start:start + CHUNK]):
                    block[row, items[items >= 0]] = -np.inf
            if candidates is not None:
                allowed = np.zeros(self.n_items, dtype=bool)
                allowed[candidates[candidates >= 0]] = True
                block[:, ~allowed] = -np.inf
            index, values = top_k(block, k)
            finite = np.isfinite(values)
            index_out[start:start + len(chunk)] = np.where(finite, index, -1)
            score_out[start:start + len(chunk)] = np.where(finite, values, np.nan)
        return index_out, score_out

    def recommend_user(self, user: object, k: int = 10, *, include_seen: bool = False,
                       exclude: Iterable[object] | None = None,
                       candidates: Iterable[object] | None = None) -> tuple[list[str], list[float], bool]:
        """One user's list as (item ids as text, scores, cold start): what the server answers, without the
        DataFrame `recommend` builds (pandas cost more than the scoring for one user)."""
        codes = self.user_codes([user])
        excluded = [self.item_codes(exclude)] if exclude is not None else None
        allowed = self.item_codes(candidates) if candidates is not None else None
        index, values = self.recommend_codes(codes, k, include_seen=include_seen, exclude=excluded,
                                             candidates=allowed)
        keep = index[0] >= 0
        items = [str(i) for i in self._item_out[index[0][keep]].tolist()]
        return items, values[0][keep].astype(np.float64).tolist(), bool(codes[0] < 0)

    def recommend(self, users: Sequence[object], k: int = 10, *, include_seen: bool = False,
                  exclude: Sequence[Iterable[object]] | None = None,
                  candidates: Iterable[object] | None = None) -> pd.DataFrame:
        """Long table: user, item, score, rank (1 = best), cold_start (the user was not in training)."""
        codes = self.user_codes(users)
        excluded = [self.item_codes(e) for e in exclude] if exclude is not None else None
        allowed = self.item_codes(candidates) if candidates is not None else None
        index, values = self.recommend_codes(codes, k, include_seen=include_seen, exclude=excluded,
                                             candidates=allowed)
        rows, ranks = np.nonzero(index >= 0)
        users_array = np.asarray(list(users), dtype=object)
        return pd.DataFrame({
            self.columns.user: users_array[rows], self.columns.item: self._item_out[index[rows, ranks]],
            "score": values[rows, ranks].astype(np.float64), "rank": ranks + 1,
            "cold_start": codes[rows] < 0,
        })

    def similar(self, item: object, k: int = 10) -> pd.DataFrame:
        """The k items most often interacted with by the same users (cosine of their user columns)."""
        code = self.item_codes([item])[0]
        if code < 0:
            return pd.DataFrame({self.columns.item: [], "score": [], "rank": []})
        binary = self._view("binary")
        if self._norms is None:
            self._norms = np.sqrt(np.asarray(binary.multiply(binary).sum(axis=0)).ravel()).astype(np.float32)
        column = binary[:, code]
        overlap = np.asarray((binary.T @ column).todense(), dtype=np.float32).ravel()
        scores = overlap / np.maximum(self._norms * max(self._norms[code], 1e-9), 1e-9)
        features = self._features()
        if features is not None:  # a cold item has no co-occurrence: its features speak for it
            scores = scores + 1e-3 * (features @ features[code])
        scores[code] = -np.inf
        scores[scores <= 0] = -np.inf
        index, values = top_k(scores[None, :], k)
        keep = np.isfinite(values[0])
        return pd.DataFrame({self.columns.item: self._item_out[index[0][keep]],
                             "score": values[0][keep].astype(np.float64), "rank": np.arange(1, keep.sum() + 1)})

    def _features(self) -> np.ndarray | None:
        for component, _ in self.components:
            features = getattr(component, "features", None)
            if features is not None:
                return features
        return None


def _codes(index: dict[str, int], values: Iterable[object]) -> np.ndarray:
    """Codes of ids (-1 unknown); a list of strings is looked up directly (id_keys builds a pandas Series,
    which cost more than the scoring for one served user)."""
    if isinstance(values, list | tuple) and all(isinstance(v, str) for v in values):
        return np.fromiter((index.get(v.strip(), -1) for v in values), dtype=np.int64, count=len(values))
    return np.array([index.get(k, -1) for k in id_keys(values)], dtype=np.int64)


def _rows(matrix: sp.csr_matrix, codes: np.ndarray) -> sp.csr_matrix:
    """Rows `codes` of a CSR matrix; one row as a slice, since SciPy's fancy indexing costs ~0.1 ms a call on
    its own (three of them were a third of a one-user list's time in process)."""
    if len(codes) == 1:
        code = int(codes[0])
        return matrix[code:code + 1]
    return matrix[codes]


def _as_numbers(ids: np.ndarray) -> np.ndarray:
    """Item ids as integers when every id is one (so a CSV round-trip gives back the training ids)."""
    text = pd.Series(ids, dtype=object).astype(str)
    if len(text) and text.str.fullmatch(r"-?\d{1,18}").all():
        return text.astype(np.int64).to_numpy()
    return np.asarray(ids, dtype=object)
