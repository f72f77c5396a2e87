"""Free-text features: TF-IDF for linear models, stacked out-of-fold scores for the rest.

Linear models get word and character n-gram TF-IDF of each text column; the n-gram
ranges, `min_df`, sublinear tf and whether the sentence embeddings join the TF-IDF
(`embed`, with the kiln-ml[text] extra) are prep options a linear trial's config carries
(`text_options`), so the search tunes them like any hyperparameter.

Trees and k-NN split poorly on tens of thousands of sparse columns, so they get the text
through a small model instead (`TextStack`): a linear model on the TF-IDF whose scores
become a few dense columns, one per class. `fit_transform` returns the scores of an
*inner* cross-validation over the rows it is given (never a row's own fit), and
`transform` the scores of the model refitted on all of them. Fitted inside each outer
CV fold like every other prep step, the outer validation rows never reach the
vocabulary or the model: the out-of-fold scores stay honest (tests/unit/prep/test_text.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

TEXT_DEFAULTS: dict[str, Any] = {"word_ngrams": 2, "char_ngrams": 5, "min_df": 2, "sublinear_tf": True,
                                  "embed": True}
WORD_MAX_FEATURES = 50_000
CHAR_MAX_FEATURES = 100_000
CHAR_MIN_N = 2
INNER_FOLDS = 3
STACK_C = 3.0  # the inner logistic regression's strength (few classes; see TextStack)
STACK_MAX_LOGISTIC_CLASSES = 5  # more classes: ComplementNB, 100x cheaper than a 34-class lbfgs fit


class Tfidf(TfidfVectorizer):
    """scikit-learn's TfidfVectorizer, whose vocabulary persists as two arrays.

    skops writes a dict entry by entry: a 56k-term vocabulary took 268 s to save and 14 s
    to load; as a term array and an index array it is two .npy members.
    """

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # a copy: object.__getstate__ returns __dict__ itself
        vocabulary = state.pop("vocabulary_", None)
        if vocabulary is not None:
            state["vocabulary_terms_"] = np.asarray(list(vocabulary), dtype=str)
            state["vocabulary_index_"] = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        terms, index = state.pop("vocabulary_terms_", None), state.pop("vocabulary_index_", None)
        if terms is not None:
            state["vocabulary_"] = dict(zip(terms.tolist(), index.tolist(), strict=True))
        super().__setstate__(state)


def text_options(config: dict[str, Any] | None) -> dict[str, Any]:
    """The text prep options in a trial's config, defaults filled in."""
    config = config or {}
    return {key: config.get(key, default) for key, default in TEXT_DEFAULTS.items()}


def strip_text_options(config: dict[str, Any]) -> dict[str, Any]:
    """A config without its text prep options: what a learner's estimator is given."""
    return {key: value for key, value in config.items() if key not in TEXT_DEFAULTS}


def tfidf_steps(name: str, index: int, options: dict[str, Any]) -> list[tuple[str, Any, list[str]]]:
    """ColumnTransformer entries for one text column: word and char_wb TF-IDF, each a
    TextColumn → TfidfVectorizer pipeline (the form the serving fast path compiles)."""
    from sklearn.pipeline import Pipeline

    from kiln.prep.transformers import TextColumn

    options = text_options(options)
    common = {"min_df": int(options["min_df"]), "sublinear_tf": bool(options["sublinear_tf"]), "dtype": np.float64}
    word = Tfidf(ngram_range=(1, int(options["word_ngrams"])), max_features=WORD_MAX_FEATURES, **common)
    steps = [(f"tfidf_{index}", Pipeline([("column", TextColumn()), ("tfidf", word)]), [name])]
    if int(options["char_ngrams"]) >= CHAR_MIN_N:
        char = Tfidf(analyzer="char_wb", ngram_range=(CHAR_MIN_N, int(options["char_ngrams"])),
                               max_features=CHAR_MAX_FEATURES, **common)
        steps.append((f"tfidf_char_{index}", Pipeline([("column", TextColumn()), ("tfidf", char)]), [name]))
    return steps


def _strings(X: pd.DataFrame | np.ndarray) -> np.ndarray:
    column = X.iloc[:, 0] if isinstance(X, pd.DataFrame) else pd.Series(np.asarray(X).reshape(-1))
    return column.astype(object).where(column.notna(), "").astype(str).to_numpy()


class TextStack(TransformerMixin, BaseEstimator):
    """One text column → a linear model's scores on its TF-IDF (one column per class, one
    for binary and regression); the training rows get inner out-of-fold scores.

    The inner model is a logistic regression for up to five classes, ComplementNB beyond
    (a 34-class lbfgs fit takes seconds per fold, NB milliseconds; trees need the
    scores' order, not their calibration), ridge for regression. Without labels (`y`
    None) there is nothing to stack on, and the output has no columns.
    """

    def __init__(self, task: str = "binary", inner_folds: int = INNER_FOLDS, seed: int = 0,
                 standardize: bool = False) -> None:
        self.task = task
        self.inner_folds = inner_folds
        self.seed = seed
        self.standardize = standardize  # k-NN: scores on the scale of the other standardised columns

    def _vectorizer(self) -> Any:
        return Tfidf(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=WORD_MAX_FEATURES,
                               dtype=np.float64)

    def _model(self, n_classes: int) -> Any:
        if self.task == "regression":
            from sklearn.linear_model import Ridge

            return Ridge(alpha=1.0)
        if n_classes <= STACK_MAX_LOGISTIC_CLASSES:
            from sklearn.linear_model import LogisticRegression

            return LogisticRegression(C=STACK_C, max_iter=500, random_state=self.seed)
        from sklearn.naive_bayes import ComplementNB

        return ComplementNB(alpha=0.3)

    def _scores(self, model: Any, matrix: Any) -> np.ndarray:
        if self.task == "regression":
            return model.predict(matrix).reshape(-1, 1)
        proba = model.predict_proba(matrix)
        return proba[:, 1:] if proba.shape[1] == 2 else proba

    def fit(self, X: Any, y: Any = None) -> TextStack:
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):  # small sparse fits: BLAS threads only contend
            return self._fit_transform(X, y)

    def _fit_transform(self, X: Any, y: Any) -> np.ndarray:
        texts = _strings(X)
        self.fitted_ = y is not None
        if y is None:
            self.n_out_ = 0
            return np.empty((len(texts), 0))
        y = np.asarray(y)
        try:
            self.vectorizer_ = self._vectorizer().fit(texts)
        except ValueError:  # too few words that occur twice: a vocabulary of single occurrences
            self.vectorizer_ = Tfidf(sublinear_tf=True, dtype=np.float64).fit(texts)
        matrix = self.vectorizer_.transform(texts)
        self.classes_ = None if self.task == "regression" else np.unique(y)
        n_classes = 0 if self.classes_ is None else len(self.classes_)
        inner = self._inner_scores(matrix, y, n_classes)
        self.model_ = self._model(n_classes).fit(matrix, y)
        self.n_out_ = inner.shape[1]
        self.mean_ = inner.mean(axis=0) if self.standardize else np.zeros(self.n_out_)
        self.scale_ = np.maximum(inner.std(axis=0), 1e-9) if self.standardize else np.ones(self.n_out_)
        return (inner - self.mean_) / self.scale_

    def _inner_scores(self, matrix: Any, y: np.ndarray, n_classes: int) -> np.ndarray:
        from sklearn.model_selection import KFold, StratifiedKFold

        width = 1 if self.task == "regression" or n_classes == 2 else n_classes
        scores = np.zeros((len(y), width))
        if len(y) < 2 * self.inner_folds:
            return scores
        stratify = (self.task != "regression"
                    and np.bincount(np.searchsorted(self.classes_, y)).min() >= self.inner_folds)
        splitter = (StratifiedKFold if stratify else KFold)(self.inner_folds, shuffle=True, random_state=self.seed)
        for fit_rows, score_rows in splitter.split(matrix, y):
            model = self._model(n_classes).fit(matrix[fit_rows], y[fit_rows])
            part = self._scores(model, matrix[score_rows])
            if self.task != "regression" and n_classes > 2 and part.shape[1] != n_classes:
                full = np.zeros((len(score_rows), n_classes))  # a class absent from this inner fold
                full[:, np.searchsorted(self.classes_, model.classes_)] = part
                part = full
            scores[score_rows] = part
        return scores

    def transform(self, X: Any) -> np.ndarray:
        texts = _strings(X)
        if not self.fitted_:
            return np.empty((len(texts), 0))
        return (self._scores(self.model_, self.vectorizer_.transform(texts)) - self.mean_) / self.scale_

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        name = "text" if input_features is None else str(next(iter(input_features)))
        return np.asarray([f"{name}__stack_{i}" for i in range(self.n_out_)], dtype=object)
