"""A hybrid for cold items: item-kNN's collaborative scores blended with the similarity of item
features (numbers, categories, tags), so an item nobody has interacted with yet can still be recommended."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from kiln.recommenders.base import FitData, Param, Recommender, dense_rows
from kiln.recommenders.item_knn import neighbours


def standardise_rows(scores: np.ndarray) -> np.ndarray:
    """Each row as z-scores, so scores on different scales can be added."""
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    return (scores - mean) / np.where(std > 0, std, 1.0)


class FeatureHybrid(Recommender):
    """(1 - w) · item-kNN + w · feature similarity to the user's items (cosine of L2-normalised features)."""

    name = "feature_hybrid"
    tags = ("hybrid", "content-based", "cold-items")
    needs = ("item_features",)
    space: ClassVar[Mapping[str, Param]] = {
        "feature_weight": Param("float", 0.02, 0.9, log=True),
        "k": Param("int", 20, 400, log=True),
        "weighting": Param("choice", choices=("binary", "rating")),
    }
    defaults = ({"feature_weight": 0.2, "k": 100},)

    def fit(self, data: FitData, *, seed: int = 0) -> FeatureHybrid:
        if data.item_features is None:
            raise ValueError("feature_hybrid needs item features (--item-features)")
        self.n_items = data.matrix.shape[1]
        self.features = np.asarray(data.item_features, dtype=np.float32)
        self.similarity = neighbours(data.matrix, similarity="cosine", k=int(self.params["k"]))
        return self

    def scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        collaborative = dense_rows(history @ self.similarity)
        profile = np.asarray(history @ self.features, dtype=np.float32)  # the user's feature profile
        content = profile @ self.features.T
        w = float(self.params["feature_weight"])
        return ((1.0 - w) * standardise_rows(collaborative) + w * standardise_rows(content)).astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray | sp.csr_matrix]:
        return {"features": self.features, "similarity": self.similarity}

    def load_arrays(self, arrays: Mapping[str, np.ndarray | sp.csr_matrix]) -> None:
        self.features = np.asarray(arrays["features"], dtype=np.float32)
        self.similarity = sp.csr_matrix(arrays["similarity"], dtype=np.float32)
