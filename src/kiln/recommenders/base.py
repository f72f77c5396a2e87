"""What every recommender is: fit on a user × item matrix, score users' whole catalogue, save as arrays.

A recommender is fitted on `FitData` (the weighted interaction matrix, the interactions' ages for
time decay, item features for cold items) and scores *every* catalogue item for the users asked
(full-catalogue ranking: no sampled negatives). Its state is a dict of NumPy arrays and SciPy sparse
matrices, which the bundle writes as .npy/.npz (never pickle); `restore` rebuilds it from them.

Search spaces are data (`Param`), not Optuna calls, so this low package imports no search library:
kiln.training.recommend turns them into Optuna suggestions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

WEIGHTINGS = ("binary", "rating")


@dataclass(frozen=True)
class Param:
    """One hyperparameter's range: kind "int", "float" (log-scaled when `log`) or "choice" (`choices`)."""

    kind: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple[Any, ...] = ()


@dataclass
class FitData:
    """What a recommender learns from: `matrix` (users × items, weighted), the interactions' ages in days
    (same sparsity pattern; None without a time column), dense item features (items × d, L2-normalised
    rows; None without --item-features)."""

    matrix: sp.csr_matrix
    ages: sp.csr_matrix | None = None
    item_features: np.ndarray | None = None


def weighted(raw: sp.csr_matrix, weighting: str) -> sp.csr_matrix:
    """The matrix a recommender sees: ones (binary implicit feedback) or the rating as confidence."""
    out = raw.astype(np.float32, copy=True).tocsr()
    if weighting == "binary":
        out.data[:] = 1.0
    return out


class Recommender:
    """The base of every recommender: its name, tags, search space and the defaults tried first."""

    name: ClassVar[str] = ""
    tags: ClassVar[tuple[str, ...]] = ()
    space: ClassVar[Mapping[str, Param]] = {}
    defaults: ClassVar[tuple[Mapping[str, Any], ...]] = ({},)  # configurations tried before the search
    needs: ClassVar[tuple[str, ...]] = ()  # "item_features" when it cannot run without them

    def __init__(self, **params: Any) -> None:
        base = {key: _default(p) for key, p in self.space.items()}
        unknown = set(params) - set(base)
        if unknown:
            raise ValueError(f"{self.name} has no parameter(s) {sorted(unknown)}")
        self.params: dict[str, Any] = {**base, **params}
        self.n_items = 0

    @property
    def weighting(self) -> str:
        return str(self.params.get("weighting", "binary"))

    def fit(self, data: FitData, *, seed: int = 0) -> Recommender:
        """Learn from `data`; returns self."""
        raise NotImplementedError

    def scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        """Scores (len(users) × items, float32) for training-user indices `users` (-1: not a training user)
        whose interactions are the rows of `history` (already weighted like the training matrix)."""
        raise NotImplementedError

    def arrays(self) -> dict[str, np.ndarray | sp.csr_matrix]:
        """The fitted state, as arrays the bundle writes without pickle."""
        raise NotImplementedError

    def load_arrays(self, arrays: Mapping[str, np.ndarray | sp.csr_matrix]) -> None:
        raise NotImplementedError

    @classmethod
    def restore(cls, params: Mapping[str, Any], arrays: Mapping[str, np.ndarray | sp.csr_matrix],
                n_items: int) -> Recommender:
        """The recommender `arrays()` described, without refitting."""
        model = cls(**params)
        model.n_items = n_items
        model.load_arrays(arrays)
        return model

    def label(self) -> str:
        """The name and parameters, as the leaderboard shows them."""
        shown = ", ".join(f"{k}={_short(v)}" for k, v in sorted(self.params.items()))
        return f"{self.name}({shown})"


def _default(param: Param) -> Any:
    if param.kind == "choice":
        return param.choices[0]
    if param.kind == "int":
        return round(float(np.sqrt(param.low * param.high))) if param.log else int((param.low + param.high) // 2)
    return float(np.sqrt(param.low * param.high)) if param.log else (param.low + param.high) / 2


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def dense_rows(matrix: sp.csr_matrix) -> np.ndarray:
    return np.asarray(matrix.toarray(), dtype=np.float32)
