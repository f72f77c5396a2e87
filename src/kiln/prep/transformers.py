"""Small scikit-learn transformers scikit-learn itself lacks.

They live in kiln's namespace, so bundles list them on skops' trusted-type allow-list.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

DATETIME_PARTS = ("year", "month", "day", "day_of_week", "hour")


class DatetimeFeatures(TransformerMixin, BaseEstimator):
    """Expand datetime columns into year, month, day, day of week and hour (missing stays NaN)."""

    def fit(self, X: pd.DataFrame, y: object = None) -> DatetimeFeatures:
        self.columns_ = [str(c) for c in X.columns]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        parts = []
        for name in self.columns_:
            stamps = pd.to_datetime(X[name], errors="coerce", format="mixed")
            for part in DATETIME_PARTS:
                parts.append(getattr(stamps.dt, part).astype("float64").to_numpy())
        return np.column_stack(parts) if parts else np.empty((len(X), 0))

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray([f"{c}__{p}" for c in self.columns_ for p in DATETIME_PARTS], dtype=object)


class TextStatistics(TransformerMixin, BaseEstimator):
    """Character and word counts of free-text columns: what tree models get from text.

    Trees split poorly on thousands of sparse TF-IDF columns, so they see the text's
    length and word count instead; linear models get TF-IDF (see `prep.build`).
    """

    def fit(self, X: pd.DataFrame, y: object = None) -> TextStatistics:
        self.columns_ = [str(c) for c in X.columns]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        parts = []
        for name in self.columns_:
            text = X[name].astype(object).where(X[name].notna(), "").astype(str)
            parts.append(text.str.len().astype("float64").to_numpy())
            parts.append(text.str.split().str.len().astype("float64").to_numpy())
        return np.column_stack(parts) if parts else np.empty((len(X), 0))

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray([f"{c}__{p}" for c in self.columns_ for p in ("chars", "words")], dtype=object)


class TextColumn(TransformerMixin, BaseEstimator):
    """Pass one text column on as a 1-D array of strings, as TfidfVectorizer expects."""

    def fit(self, X: pd.DataFrame, y: object = None) -> TextColumn:
        return self

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray(["text"], dtype=object)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        column = X.iloc[:, 0]
        return column.astype(object).where(column.notna(), "").astype(str).to_numpy()
