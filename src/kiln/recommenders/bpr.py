"""Bayesian Personalised Ranking (Rendle et al. 2009) through the `implicit` library: a pairwise
ranking loss on sampled negatives (used for training only; evaluation ranks the whole catalogue)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from kiln.recommenders.base import FitData, Param, Recommender


class BPR(Recommender):
    """Factors trained to rank a user's items above the rest; one thread, so the same seed gives the same model."""

    name = "bpr"
    tags = ("matrix-factorisation", "pairwise", "implicit-library")
    space: ClassVar[Mapping[str, Param]] = {
        "factors": Param("int", 16, 256, log=True),
        "learning_rate": Param("float", 1e-3, 0.2, log=True),
        "regularization": Param("float", 1e-4, 0.1, log=True),
        "iterations": Param("int", 20, 200, log=True),
        "weighting": Param("choice", choices=("binary",)),
    }
    defaults = ({"factors": 64, "learning_rate": 0.05, "regularization": 0.01, "iterations": 100},)

    def fit(self, data: FitData, *, seed: int = 0) -> BPR:
        from implicit.cpu.bpr import BayesianPersonalizedRanking
        from threadpoolctl import threadpool_limits

        p = self.params
        self.n_items = data.matrix.shape[1]
        with threadpool_limits(1, "blas"):
            model = BayesianPersonalizedRanking(factors=int(p["factors"]), learning_rate=float(p["learning_rate"]),
                                                regularization=float(p["regularization"]),
                                                iterations=int(p["iterations"]), num_threads=1, random_state=seed)
            model.fit(data.matrix.astype(np.float32), show_progress=False)
        self.user_factors = np.asarray(model.user_factors, dtype=np.float32)  # last column: 1 (item bias)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)  # last column: the item's bias
        return self

    def scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        vectors = np.zeros((len(users), self.item_factors.shape[1]), dtype=np.float32)
        known = users >= 0
        vectors[known] = self.user_factors[users[known]]
        for row in np.flatnonzero(~known):  # a user outside training: the mean of their items' factors
            items = history[row].indices
            if len(items):
                vectors[row, :-1] = self.item_factors[items, :-1].mean(axis=0)
            vectors[row, -1] = 1.0
        return vectors @ self.item_factors.T

    def arrays(self) -> dict[str, np.ndarray | sp.csr_matrix]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def load_arrays(self, arrays: Mapping[str, np.ndarray | sp.csr_matrix]) -> None:
        self.user_factors = np.asarray(arrays["user_factors"], dtype=np.float32)
        self.item_factors = np.asarray(arrays["item_factors"], dtype=np.float32)
