"""Implicit ALS (Hu, Koren & Volinsky 2008) through the `implicit` library, BLAS limited to one thread
around fit as its documentation asks (its own threads do the work)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from kiln.recommenders.base import FitData, Param, Recommender


class ALS(Recommender):
    """Matrix factorisation with confidence weights; a user outside training is folded in by least squares."""

    name = "als"
    tags = ("matrix-factorisation", "implicit-library")
    space: ClassVar[Mapping[str, Param]] = {
        "factors": Param("int", 16, 256, log=True),
        "regularization": Param("float", 1e-3, 100.0, log=True),
        "alpha": Param("float", 0.1, 40.0, log=True),
        "iterations": Param("int", 5, 30),
        "weighting": Param("choice", choices=("binary", "rating")),
    }
    defaults = ({"factors": 64, "regularization": 10.0, "alpha": 1.0, "iterations": 15},)

    def fit(self, data: FitData, *, seed: int = 0) -> ALS:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        p = self.params
        self.n_items = data.matrix.shape[1]
        with threadpool_limits(1, "blas"):  # implicit checks BLAS threads when the model is made
            model = AlternatingLeastSquares(factors=int(p["factors"]), regularization=float(p["regularization"]),
                                            alpha=float(p["alpha"]), iterations=int(p["iterations"]),
                                            random_state=seed)
            model.fit(data.matrix.astype(np.float32), show_progress=False)
        self.user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)
        return self

    def scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        vectors = np.zeros((len(users), self.item_factors.shape[1]), dtype=np.float32)
        known = users >= 0
        vectors[known] = self.user_factors[users[known]]
        for row in np.flatnonzero(~known):
            vectors[row] = self._fold_in(history[row])
        return vectors @ self.item_factors.T

    def refresh_users(self, history: sp.csr_matrix) -> None:
        """Re-solve every user's factor from `history` with the item factors fixed (one ALS half-step):
        a model fitted without each user's newest interaction catches up on it without a full refit."""
        y = self.item_factors.astype(np.float64)
        alpha, reg = float(self.params["alpha"]), float(self.params["regularization"])
        base = y.T @ y + reg * np.eye(y.shape[1])
        confidence = history.astype(np.float64)
        confidence.data *= alpha
        if np.allclose(confidence.data, 1.0):  # implicit's update adds (c - 1) y yᵀ: nothing per user here
            solved = np.linalg.solve(base, (confidence @ y).T).T
        else:
            solved = np.vstack([self._fold_in(history[u]) for u in range(history.shape[0])])
        self.user_factors = solved.astype(np.float32)

    def _fold_in(self, row: sp.csr_matrix) -> np.ndarray:
        """The user factor ALS would solve for this history (implicit's update: confidence = alpha * value)."""
        y = self.item_factors
        items, values = row.indices, row.data.astype(np.float64) * float(self.params["alpha"])
        if len(items) == 0:
            return np.zeros(y.shape[1], dtype=np.float32)
        yi = y[items].astype(np.float64)
        a = y.T.astype(np.float64) @ y + float(self.params["regularization"]) * np.eye(y.shape[1])
        a += (yi * (values - 1.0)[:, None]).T @ yi
        return np.linalg.solve(a, yi.T @ values).astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray | sp.csr_matrix]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def load_arrays(self, arrays: Mapping[str, np.ndarray | sp.csr_matrix]) -> None:
        self.user_factors = np.asarray(arrays["user_factors"], dtype=np.float32)
        self.item_factors = np.asarray(arrays["item_factors"], dtype=np.float32)
