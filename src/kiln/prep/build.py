"""Build the preprocessing pipeline a learner family needs, from the schema.

- tree:   numbers as they are (missing kept), categories as ordinal codes (missing and
          unseen → NaN, marked categorical for learners that handle them natively),
          datetimes expanded, text reduced to length and word counts.
- linear: numbers imputed (median, with a missing indicator) and standardised,
          categories one-hot (levels with < 5 rows grouped as "infrequent"; an unseen
          level joins that group when there is one, else gets all zeros), TF-IDF per text column.
- knn:    as linear, but dense and without TF-IDF (distances in 20k sparse dims are noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from kiln.data.schema import Schema
from kiln.prep.transformers import DatetimeFeatures, TextColumn, TextStatistics
from kiln.types import PrepFamily

TFIDF_MAX_FEATURES = 20_000
ONEHOT_MIN_FREQUENCY = 5
ONEHOT_MAX_CATEGORIES = 50


@dataclass(frozen=True)
class PrepPlan:
    """A ColumnTransformer and which of its output columns are categorical codes."""

    transformer: ColumnTransformer
    categorical: tuple[int, ...]


def build_prep(schema: Schema, family: PrepFamily) -> PrepPlan:
    """Return an unfitted preprocessing plan for `family`."""
    numeric = schema.of_kind("numeric", "boolean")
    categorical = schema.of_kind("categorical")
    datetimes = schema.of_kind("datetime")
    texts = schema.of_kind("text")
    if family == "tree":
        steps = [
            ("numeric", "passthrough", numeric),
            ("datetime", DatetimeFeatures(), datetimes),
            ("text", TextStatistics(), texts),
            ("categorical", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                           encoded_missing_value=np.nan, dtype=np.float64), categorical),
        ]
        n_before = len(numeric) + 5 * len(datetimes) + 2 * len(texts)
        codes = tuple(range(n_before, n_before + len(categorical)))
        return PrepPlan(_column_transformer(steps, sparse=False), codes)
    dense_numeric = Pipeline([("impute", SimpleImputer(strategy="median", add_indicator=True)),
                              ("scale", StandardScaler())])
    steps = [
        ("numeric", dense_numeric, numeric),
        ("datetime", Pipeline([("parts", DatetimeFeatures()),
                               ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                               ("scale", StandardScaler())]), datetimes),
        ("categorical", Pipeline([
            ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
            ("onehot", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=ONEHOT_MIN_FREQUENCY,
                                     max_categories=ONEHOT_MAX_CATEGORIES, sparse_output=family == "linear")),
        ]), categorical),
    ]
    if family == "linear":
        steps += [(f"tfidf_{i}", Pipeline([("column", TextColumn()), ("tfidf", TfidfVectorizer(
            max_features=TFIDF_MAX_FEATURES, ngram_range=(1, 2), min_df=2, sublinear_tf=True))]), [name])
                  for i, name in enumerate(texts)]
    else:
        steps.append(("text", Pipeline([("stats", TextStatistics()), ("scale", StandardScaler())]), texts))
    return PrepPlan(_column_transformer(steps, sparse=family == "linear"), ())


def _column_transformer(steps: list, *, sparse: bool) -> ColumnTransformer:
    kept = [step for step in steps if len(step[2]) > 0]
    return ColumnTransformer(kept, remainder="drop", sparse_threshold=0.3 if sparse else 0.0,
                             verbose_feature_names_out=False)
