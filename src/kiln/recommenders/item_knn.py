"""Item-kNN: each item's K most similar items (cosine or BM25-weighted, the `implicit` library's);
a user's score for an item is the similarity-weighted sum over the items they interacted with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from kiln.recommenders.base import FitData, Param, Recommender, dense_rows


def neighbours(matrix: sp.csr_matrix, *, similarity: str, k: int, k1: float = 1.2, b: float = 0.75) -> sp.csr_matrix:
    """The item × item similarity, K neighbours per item (implicit's nearest_neighbours, one BLAS thread)."""
    import warnings

    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender
    from implicit.utils import ParameterWarning
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        # its own weighting hands its fit a COO matrix and then warns about it; nothing for a caller to fix
        warnings.simplefilter("ignore", ParameterWarning)
        model = (CosineRecommender(K=k) if similarity == "cosine" else BM25Recommender(K=k, K1=k1, B=b))
        model.fit(sp.csr_matrix(matrix, dtype=np.float32), show_progress=False)
    return sp.csr_matrix(model.similarity, dtype=np.float32)


class ItemKNN(Recommender):
    """Items similar to the user's items; strong on small catalogues and sessions (Dacrema et al., 2019)."""

    name = "item_knn"
    tags = ("neighbourhood", "item-based", "implicit-library")
    space: ClassVar[Mapping[str, Param]] = {
        "similarity": Param("choice", choices=("cosine", "bm25")),
        "k": Param("int", 10, 800, log=True),
        "k1": Param("float", 0.3, 3.0),
        "b": Param("float", 0.1, 1.0),
        "weighting": Param("choice", choices=("binary", "rating")),
    }
    defaults = ({"similarity": "cosine", "k": 100}, {"similarity": "bm25", "k": 200, "k1": 1.2, "b": 0.75})

    def fit(self, data: FitData, *, seed: int = 0) -> ItemKNN:
        self.n_items = data.matrix.shape[1]
        p = self.params
        self.similarity = neighbours(data.matrix, similarity=p["similarity"], k=int(p["k"]),
                                     k1=float(p["k1"]), b=float(p["b"]))
        return self

    def scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return dense_rows(history @ self.similarity)

    def arrays(self) -> dict[str, np.ndarray | sp.csr_matrix]:
        return {"similarity": self.similarity}

    def load_arrays(self, arrays: Mapping[str, np.ndarray | sp.csr_matrix]) -> None:
        self.similarity = sp.csr_matrix(arrays["similarity"], dtype=np.float32)
