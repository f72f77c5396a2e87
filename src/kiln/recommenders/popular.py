"""Most popular items, each interaction counted with weight 0.5 ** (age / half-life): the baseline to beat."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from kiln.recommenders.base import FitData, Param, Recommender


class MostPopular(Recommender):
    """Items by (time-decayed) number of users; the same list for everyone, so also the cold-start list."""

    name = "most_popular"
    tags = ("baseline", "non-personalised", "time-decay")
    space: ClassVar[Mapping[str, Param]] = {
        "half_life_days": Param("float", 1.0, 3650.0, log=True),
        "decay": Param("choice", choices=(False, True)),
        "weighting": Param("choice", choices=("binary", "rating")),
    }
    defaults = ({"decay": False}, {"decay": True, "half_life_days": 90.0})

    def fit(self, data: FitData, *, seed: int = 0) -> MostPopular:
        matrix = data.matrix
        self.n_items = matrix.shape[1]
        if self.params["decay"] and data.ages is not None:
            decayed = matrix.copy()
            decayed.data = decayed.data * np.power(0.5, data.ages.data / float(self.params["half_life_days"]))
            matrix = decayed
        self.popularity = np.asarray(matrix.sum(axis=0), dtype=np.float64).ravel().astype(np.float32)
        return self

    def scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self.popularity, (len(users), self.n_items)).copy()

    def arrays(self) -> dict[str, np.ndarray | sp.csr_matrix]:
        return {"popularity": self.popularity}

    def load_arrays(self, arrays: Mapping[str, np.ndarray | sp.csr_matrix]) -> None:
        self.popularity = np.asarray(arrays["popularity"], dtype=np.float32)
