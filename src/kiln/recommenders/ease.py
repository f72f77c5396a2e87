"""EASE (Steck, WWW 2019): a closed-form item × item linear model, B = -P / diag(P) with
P = (XᵀX + λI)⁻¹ and a zero diagonal. On a large catalogue only the `max_items` most popular items
are modelled (the inverse is cubic in the items); the others score below every modelled item."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from kiln.recommenders.base import FitData, Param, Recommender


class EASE(Recommender):
    """A shallow autoencoder solved exactly; a strong, cheap baseline on dense-enough catalogues."""

    name = "ease"
    tags = ("linear", "closed-form", "item-based")
    space: ClassVar[Mapping[str, Param]] = {
        "lambda_": Param("float", 10.0, 5000.0, log=True),
        "max_items": Param("int", 500, 4000, log=True),
        "weighting": Param("choice", choices=("binary", "rating")),
    }
    defaults = ({"lambda_": 300.0, "max_items": 3000},)

    def fit(self, data: FitData, *, seed: int = 0) -> EASE:
        from threadpoolctl import threadpool_limits

        matrix = data.matrix
        self.n_items = matrix.shape[1]
        counts = np.asarray((matrix > 0).sum(axis=0)).ravel()
        keep = min(int(self.params["max_items"]), self.n_items)
        order = np.argsort(-counts, kind="stable")[:keep]
        self.modelled = np.sort(order).astype(np.int64)
        sub = matrix[:, self.modelled].astype(np.float64)
        with threadpool_limits(2, "blas"):
            gram = (sub.T @ sub).toarray()
            gram[np.diag_indices_from(gram)] += float(self.params["lambda_"])
            inverse = np.linalg.inv(gram)
        weights = inverse / (-np.diag(inverse))
        weights[np.diag_indices_from(weights)] = 0.0
        self.weights = weights.astype(np.float32)
        self.floor_order = counts.astype(np.float32) / max(float(counts.max()), 1.0)  # ties among the unmodelled
        return self

    def scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        modelled = np.asarray((history[:, self.modelled] @ self.weights), dtype=np.float32)
        out = np.empty((len(users), self.n_items), dtype=np.float32)
        low = modelled.min(axis=1, keepdims=True) if modelled.size else np.zeros((len(users), 1), np.float32)
        out[:] = low - 1.0 + 1e-3 * self.floor_order  # below every modelled item, popular first
        out[:, self.modelled] = modelled
        return out

    def arrays(self) -> dict[str, np.ndarray | sp.csr_matrix]:
        return {"modelled": self.modelled, "weights": self.weights, "floor_order": self.floor_order}

    def load_arrays(self, arrays: Mapping[str, np.ndarray | sp.csr_matrix]) -> None:
        self.modelled = np.asarray(arrays["modelled"], dtype=np.int64)
        self.weights = np.asarray(arrays["weights"], dtype=np.float32)
        self.floor_order = np.asarray(arrays["floor_order"], dtype=np.float32)
