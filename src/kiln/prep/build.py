"""Build the preprocessing pipeline a learner family needs, from the schema.

- tree:   numbers as they are (missing kept), categories as ordinal codes (missing and
          unseen → NaN, marked categorical for learners that handle them natively),
          datetimes expanded, text as its length, word count and a stacked linear model's
          scores on its TF-IDF (`prep.text.TextStack`: inner out-of-fold on the training rows).
- linear: numbers imputed (median, with a missing indicator) and standardised,
          categories one-hot (levels with < 5 rows grouped as "infrequent"; an unseen
          level joins that group when there is one, else gets all zeros), word and
          character n-gram TF-IDF per text column (options tuned by the search: `prep.text`).
- knn:    as linear, but dense and without TF-IDF (distances in 20k sparse dims are noise):
          text as the tree family's statistics and stacked scores, standardised.

With `embed` (the `kiln-ml[text]` extra installed, not turned off), every family also gets
each text column's sentence embedding (`prep.embed.SentenceEmbedding`, EMBED_DIMS components);
a linear trial whose text options say `embed: False` goes without (on long reviews the 256
dense columns cost its TF-IDF model AUC: fine_foods CV 0.863 → 0.850).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from kiln.data.schema import Schema
from kiln.prep.embed import SentenceEmbedding
from kiln.prep.text import TextStack, text_options, tfidf_steps
from kiln.prep.transformers import DatetimeFeatures, TextStatistics
from kiln.types import PrepFamily

ONEHOT_MIN_FREQUENCY = 5
ONEHOT_MAX_CATEGORIES = 50
# Embedding components per family: trees and k-NN take the leading 64 (split and distance
# cost grow with width), linear models all 256 beside their TF-IDF.
EMBED_DIMS: dict[str, int] = {"tree": 64, "knn": 64, "linear": 256}


@dataclass(frozen=True)
class PrepPlan:
    """A ColumnTransformer and which of its output columns are categorical codes."""

    transformer: ColumnTransformer
    categorical: tuple[int, ...]


def build_prep(schema: Schema, family: PrepFamily, *, task: str = "binary", text: dict | None = None,
               seed: int = 0, embed: bool = False) -> PrepPlan:
    """Return an unfitted preprocessing plan for `family`; `task` tells the stacked text
    model what to predict, `text` holds the linear family's TF-IDF options, `embed` adds
    sentence embeddings of the text columns."""
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
        ] + [(f"text_stack_{i}", TextStack(task=task, seed=seed), [name]) for i, name in enumerate(texts)]
        steps += _embedding_steps(texts, family, embed)
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
        for i, name in enumerate(texts):
            steps += tfidf_steps(name, i, text or {})
        embed = embed and bool(text_options(text)["embed"])
    else:
        steps.append(("text", Pipeline([("stats", TextStatistics()), ("scale", StandardScaler())]), texts))
        steps += [(f"text_stack_{i}", TextStack(task=task, seed=seed, standardize=True), [name])
                  for i, name in enumerate(texts)]
    steps += _embedding_steps(texts, family, embed)
    # TF-IDF output stays sparse whatever its density (char n-grams of a few short rows are dense)
    return PrepPlan(_column_transformer(steps, sparse=family == "linear", always=bool(texts)), ())


def _embedding_steps(texts: list[str], family: str, embed: bool) -> list[tuple[str, SentenceEmbedding, list[str]]]:
    """Unit-length vectors for trees and linear models (beside TF-IDF's unit-length rows);
    standardised for k-NN, like its other columns."""
    if not embed:
        return []
    return [(f"text_embed_{i}", SentenceEmbedding(dim=EMBED_DIMS[family], standardize=family == "knn"), [name])
            for i, name in enumerate(texts)]


def _column_transformer(steps: list, *, sparse: bool, always: bool = False) -> ColumnTransformer:
    kept = [step for step in steps if len(step[2]) > 0]
    threshold = (1.0 if always else 0.3) if sparse else 0.0
    return ColumnTransformer(kept, remainder="drop", sparse_threshold=threshold,
                             verbose_feature_names_out=False)
