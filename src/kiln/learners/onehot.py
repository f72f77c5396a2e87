"""Categorical codes as numbers, for boosters whose ONNX converters cannot express categorical splits.

CatBoost's ONNX export refuses any categorical feature, onnxmltools' XGBoost converter does not
write XGBoost's categorical splits, and skl2onnx's HistGradientBoosting converter reads a
categorical split as a numeric one. A categorical column with at most `MAX_LEVELS` levels in the
training rows is therefore handed to those boosters as numbers: its code (NaN when missing or
unseen) and one 0/1 column per level, appended after the other features (what XGBoost's
`max_cat_to_onehot` and CatBoost's `one_hot_max_size` do inside the booster for small columns);
the export writes the same columns in ONNX (`kiln.export.learners`). A column with more levels
stays native, and the export refuses such a model by naming the column. What it costs in
accuracy: benchmarks/RESULTS.md, "One-hot categoricals".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_LEVELS = 8  # the widest categorical column that reaches the boosters one-hot


@dataclass(frozen=True)
class OneHotCodes:
    """Which code columns become one-hot columns, with their levels (the codes seen in training)."""

    columns: tuple[tuple[int, tuple[float, ...]], ...] = ()

    @classmethod
    def fit(cls, X: np.ndarray, categorical: tuple[int, ...], max_levels: int | None = None) -> OneHotCodes:
        """`max_levels` defaults to the module's `MAX_LEVELS`, read at each call (0: all native, as
        before the expansion; benchmarks/onehot_accuracy.py compares the two)."""
        max_levels = MAX_LEVELS if max_levels is None else max_levels
        columns = []
        for i in categorical:
            codes = np.asarray(X[:, i], dtype=np.float64)
            levels = np.unique(codes[~np.isnan(codes)])
            if len(levels) <= max_levels:
                columns.append((int(i), tuple(float(v) for v in levels)))
        return cls(tuple(columns))

    def native(self, categorical: tuple[int, ...]) -> tuple[int, ...]:
        """The categorical columns left to the booster's own categorical handling."""
        expanded = {i for i, _ in self.columns}
        return tuple(i for i in categorical if i not in expanded)

    @property
    def width(self) -> int:
        return sum(len(levels) for _, levels in self.columns)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """`X` with one 0/1 column per level appended (NaN codes: all zeros)."""
        if not self.columns:
            return X
        X = np.asarray(X, dtype=np.float64)
        parts = [X] + [(X[:, [i]] == np.asarray(levels)[None, :]).astype(np.float64) for i, levels in self.columns]
        return np.hstack(parts)

    def to_json(self) -> list[list]:
        return [[i, list(levels)] for i, levels in self.columns]

    @classmethod
    def from_json(cls, saved: list[list] | None) -> OneHotCodes:
        """Learners saved before the expansion existed load with none: their categoricals stay native."""
        return cls(tuple((int(i), tuple(float(v) for v in levels)) for i, levels in saved or []))

    def fold_columns(self, values: np.ndarray, n_features: int, axis: int = -1) -> np.ndarray:
        """Per-column values (SHAP contributions) over the widened columns, along `axis`, summed back
        onto the `n_features` columns the learner was given: each one-hot column's share goes to
        the code column it came from."""
        if not self.columns:
            return values
        values = np.moveaxis(np.asarray(values, dtype=np.float64), axis, -1)
        out = values[..., :n_features].copy()
        at = n_features
        for i, levels in self.columns:
            out[..., i] += values[..., at:at + len(levels)].sum(axis=-1)
            at += len(levels)
        return np.moveaxis(out, -1, axis)

    def fold_contributions(self, values: np.ndarray, n_features: int) -> np.ndarray:
        """`fold_columns` of `rows × [outputs ×] (width + 1)` contributions whose last column is the bias."""
        if not self.columns:
            return values
        values = np.asarray(values, dtype=np.float64)
        return np.concatenate([self.fold_columns(values[..., :-1], n_features), values[..., -1:]], axis=-1)
