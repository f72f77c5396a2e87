"""Sentence embeddings of a text column, from a model that ships inside its package.

The `kiln-ml[text]` extra installs WordLlama (`wordllama` on PyPI): a static embedding
model whose weights (16 MB, safetensors) and tokenizer are in the wheel, so it works
offline. A text's vector is the mean of its tokens' vectors, cut to its first `dim`
components (the model is trained so that its leading components carry the most;
Matryoshka), then scaled to unit length. Nothing is learned from the rows but, for k-NN
and linear models, the mean and spread of each component on the rows a fold is fitted
on (`standardize`); so the features sit inside each CV fold like every other prep step.

The bundle never holds the model: `SentenceEmbedding` keeps its name, version and `dim`
(plain strings and numbers, skops-safe) and loads the model from the installed package
when it first transforms. The manifest's `text_embedding` field records the same, so
loading a bundle where the extra is missing, or where another version is installed, is
one sentence naming the fix (`check_embedding`). Licence of the package and its weights:
README, "Text embeddings".
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from kiln.errors import BundleError, MissingDependencyError

PACKAGE = "wordllama"
MODEL = "l2_supercat"  # the only configuration whose 256-dim weights ship in the wheel
FULL_DIM = 256
EXTRA = "kiln-ml[text]"
MAX_CHARS = 5_000  # a text is embedded from its first 5,000 characters (the mean of its tokens changes little after)
MEMO_LIMIT = 50_000  # texts remembered per process (1 KB each): folds and families embed a text once
WHAT_IT_ADDS = (
    "sentence-embedding features of each text column (WordLlama, offline) for every learner, tree, k-NN and linear"
)

_MEMO: dict[str, np.ndarray] = {}


def embeddings_available() -> bool:
    """Whether the extra is installed (looked up, not imported: `kiln --help` stays fast)."""
    try:
        return importlib.util.find_spec(PACKAGE) is not None
    except (ImportError, ValueError):  # a finder that refuses it, a half-removed install
        return False


def installed_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        return None


def missing_extra_note() -> str:
    """The one line training says when a table has text and the extra is not installed."""
    from kiln.optional import install_command

    return (
        f"Text columns get TF-IDF and stacked scores only; the extra {EXTRA} adds {WHAT_IT_ADDS}: "
        f"{install_command(EXTRA)}."
    )


def embedding_record(dims: dict[str, int]) -> dict[str, Any]:
    """The manifest's `text_embedding` field: which model, which version, how many components per prep family."""
    return {
        "package": PACKAGE,
        "model": MODEL,
        "version": installed_version(),
        "dims": dims,
        "pooling": "mean of token vectors, first dims components, unit length",
    }


def check_embedding(record: dict[str, Any] | None, where: str) -> None:
    """Refuse a bundle trained with embeddings when this environment cannot recompute them identically."""
    if not record:
        return
    from kiln.optional import install_command

    wanted, found = record.get("version"), installed_version() if embeddings_available() else None
    if found is None:
        raise MissingDependencyError(
            f"'{where}' was trained with sentence-embedding features ({PACKAGE} {wanted}), which need the extra "
            f"{EXTRA}; install it with: {install_command(EXTRA)} (or retrain with --no-text-embeddings)."
        )
    if wanted is not None and found != wanted:
        raise BundleError(
            f"'{where}' was trained with {PACKAGE} {wanted}, but {found} is installed; its embedding "
            f"features would differ. Install it with: pip install {PACKAGE}=={wanted}, or retrain."
        )


@lru_cache(maxsize=1)
def _model() -> Any:
    """The model, from the files inside the installed package; never a download."""
    from kiln.optional import require

    wordllama = require(PACKAGE, purpose="Sentence-embedding features of text columns", package=EXTRA)
    # wordllama looks for its shipped tokenizer under 'tokenizer/' but ships it under 'tokenizers/';
    # as a cache folder the package's own folder has both 'weights/' and 'tokenizers/'.
    folder = Path(wordllama.__file__).parent
    return wordllama.WordLlama.load(config=MODEL, dim=FULL_DIM, cache_dir=folder, disable_download=True)


def embed(texts: list[str]) -> np.ndarray:
    """Mean-pooled token vectors (FULL_DIM, float32) of `texts`, each text computed once per process."""
    # Shortest first: a batch is padded to its longest text, and padding was most of the work
    # (4,000 reviews of 73 words: 6.4 s in table order, 1.8 s sorted; the vectors are identical).
    todo = sorted(dict.fromkeys(text for text in texts if text not in _MEMO), key=len)
    if todo:
        if len(_MEMO) + len(todo) > MEMO_LIMIT:
            _MEMO.clear()
        vectors = _model().embed([text[:MAX_CHARS] for text in todo], norm=False, return_np=True)
        _MEMO.update(zip(todo, np.asarray(vectors, dtype=np.float32), strict=True))
    if not texts:
        return np.empty((0, FULL_DIM), dtype=np.float32)
    return np.stack([_MEMO[text] for text in texts])


class SentenceEmbedding(TransformerMixin, BaseEstimator):
    """One text column → `dim` embedding components (unit length; standardised when asked).

    `fit` learns nothing from the text but, with `standardize`, each component's mean and
    spread; `version_` is the package version the features were computed with.
    """

    def __init__(self, dim: int = 64, standardize: bool = False) -> None:
        self.dim = dim
        self.standardize = standardize

    def _vectors(self, X: Any) -> np.ndarray:
        from kiln.prep.text import _strings  # the text column as strings, missing as '' (as TextStack reads it)

        pooled = embed(_strings(X).tolist())[:, : self.dim].astype(np.float64)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)  # empty text: zeros

    def fit(self, X: Any, y: Any = None) -> SentenceEmbedding:
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        if not 1 <= int(self.dim) <= FULL_DIM:
            raise ValueError(f"SentenceEmbedding dim must be between 1 and {FULL_DIM}, got {self.dim}.")
        vectors = self._vectors(X)
        self.version_ = installed_version()
        self.n_out_ = vectors.shape[1]
        self.mean_ = vectors.mean(axis=0) if self.standardize and len(vectors) else np.zeros(self.n_out_)
        self.scale_ = (
            np.maximum(vectors.std(axis=0), 1e-9) if self.standardize and len(vectors) else np.ones(self.n_out_)
        )
        return (vectors - self.mean_) / self.scale_

    def transform(self, X: Any) -> np.ndarray:
        return (self._vectors(X) - self.mean_) / self.scale_

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        name = "text" if input_features is None else str(next(iter(input_features)))
        return np.asarray([f"{name}__embed_{i}" for i in range(self.n_out_)], dtype=object)
