"""A fitted CountVectorizer or TfidfVectorizer compiled into dictionary look-ups.

scikit-learn's `transform` validates its input and its matrix at every call (narwhals
probes, `check_array`, parameter validation): about 3 ms for one short message through a
word and a character vectorizer, against some 50 µs for the n-grams themselves. The fitted
state is the analyzer, the vocabulary and the idf weights, so a message becomes its terms'
columns and counts, then the same sublinear tf, idf and row norm as
`TfidfTransformer.transform`, in the same order. A model keeps a vectorizer per fold and
member (50 for five linear members with a word and a character one), all fitted with the same
analyzer setting: they share one `TermCounter`, so a message is analysed once per setting and
each vectorizer only maps its distinct terms to its own columns. The fast path's self-check
(`FastPredictor._check_parts`) compares the result with the library's own on synthetic
texts and falls back to it on any difference.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from itertools import repeat
from typing import Any

import numpy as np
from scipy import sparse

CACHED_TEXTS = 64  # recent messages whose term counts each analyzer keeps (per analyzer setting)
CACHED_CHARS = 4096  # longer texts are analysed at every call, not kept
_ANALYZERS: dict[str, TermCounter] = {}
_ANALYZERS_LOCK = threading.Lock()


class TermCounter:
    """One analyzer's terms of a text and how often each occurs, for every vectorizer fitted
    with the same analyzer setting: a model keeps a vectorizer per fold and member (25 for five
    linear members), all of which analyse the same message the same way. The last
    `CACHED_TEXTS` short texts' counts are kept, so a message is analysed once per setting,
    not once per fold (the n-grams were a fifth of a one-message request's CPU)."""

    def __init__(self, analyze: Callable[[str], list[str]], *, cache: bool = True) -> None:
        self.analyze = analyze
        self.cache = cache
        self._recent: dict[str, tuple[list[str], np.ndarray]] = {}

    def __call__(self, text: str) -> tuple[list[str], np.ndarray]:
        found = self._recent.get(text)
        if found is not None:
            return found
        counts: dict[str, int] = {}
        for term in self.analyze(text):
            counts[term] = counts.get(term, 0) + 1
        found = list(counts), np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.cache and len(text) <= CACHED_CHARS:
            recent = self._recent
            if len(recent) >= CACHED_TEXTS:
                with contextlib.suppress(KeyError, StopIteration, RuntimeError):  # another thread evicted it
                    del recent[next(iter(recent))]
            recent[text] = found
        return found


def term_counter(step: Any) -> TermCounter:
    """The shared `TermCounter` of `step`'s analyzer setting; a vectorizer with its own callable
    (analyzer, preprocessor or tokenizer) gets one of its own, and one that reads files or bytes
    (`input` other than "content") one that keeps nothing."""
    params = ("analyzer", "ngram_range", "lowercase", "strip_accents", "token_pattern", "stop_words", "input",
              "encoding", "decode_error", "preprocessor", "tokenizer")
    values = [getattr(step, name, None) for name in params]
    if any(callable(value) for value in values) or step.input != "content":
        return TermCounter(step.build_analyzer(), cache=step.input == "content")
    key = repr((type(step).__name__, *values))
    with _ANALYZERS_LOCK:
        counter = _ANALYZERS.get(key)
        if counter is None:
            counter = _ANALYZERS[key] = TermCounter(step.build_analyzer())
    return counter


def compile_vectorizer(step: Any) -> Callable[[np.ndarray], sparse.csr_matrix] | None:
    """`step.transform` for an array of strings, or None for a vectorizer this does not know
    (a callable analyzer or preprocessor is fine: `build_analyzer` runs it as the library does)."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    if not isinstance(step, CountVectorizer) or not hasattr(step, "vocabulary_"):
        return None
    tfidf = isinstance(step, TfidfVectorizer)
    if tfidf and step.norm not in (None, "l1", "l2"):
        return None
    count_terms, vocabulary = term_counter(step), step.vocabulary_
    width, binary, dtype = len(step.vocabulary_), bool(step.binary), step.dtype
    idf = step.idf_ if tfidf and step.use_idf else None
    sublinear = tfidf and bool(step.sublinear_tf)
    norm = step.norm if tfidf else None
    lookup = vocabulary.get

    def weigh(data: np.ndarray, columns: np.ndarray) -> None:
        """Counts → binary or sublinear tf, times idf, in place."""
        if binary:
            data[:] = 1.0
        if sublinear:
            np.log(data, out=data)
            data += 1.0
        if idf is not None:
            data *= idf[columns]

    def transform(texts: np.ndarray) -> sparse.csr_matrix:
        if len(texts) == 1:
            return one(texts[0])
        indptr, indices, values = [0], [], []
        for text in texts:  # each distinct term's column (-1: not in the vocabulary), in column order
            terms, counts = count_terms(text)
            found = np.fromiter(map(lookup, terms, repeat(-1)), dtype=np.int64, count=len(terms))
            kept = np.flatnonzero(found >= 0)
            order = kept[np.argsort(found[kept], kind="stable")]
            indices.append(found[order])
            values.append(counts[order])
            indptr.append(indptr[-1] + len(order))
        if not values:  # no texts
            values, indices = [np.zeros(0)], [np.zeros(0, np.int64)]
        data = np.concatenate(values) if len(values) > 1 else values[0]  # a copy of the kept counts either way
        columns = (np.concatenate(indices) if len(indices) > 1 else indices[0]).astype(np.int32)
        weigh(data, columns)
        if norm is not None and len(data):
            rows = np.repeat(np.arange(len(texts)), np.diff(indptr))
            size = np.bincount(rows, weights=data * data if norm == "l2" else np.abs(data), minlength=len(texts))
            size = np.sqrt(size) if norm == "l2" else size
            size[size == 0.0] = 1.0
            data /= size[rows]
        return csr(data.astype(dtype, copy=False), columns, np.asarray(indptr, dtype=np.int32), (len(texts), width))

    def one(text: str) -> sparse.csr_matrix:
        """`transform` of one message (a chatbot's request) in fewer array calls: its row's norm
        is a dot product, no per-row bincount (each vectorizer of each fold runs this)."""
        terms, counts = count_terms(text)
        found = np.fromiter(map(lookup, terms, repeat(-1)), dtype=np.int64, count=len(terms))
        kept = found >= 0
        columns, data = found[kept], counts[kept]  # copies: the shared counts stay as they are
        order = columns.argsort(kind="stable")
        columns, data = columns[order].astype(np.int32), data[order]
        weigh(data, columns)
        if norm is not None and len(data):
            size = float(np.sqrt(data @ data)) if norm == "l2" else float(np.abs(data).sum())
            if size != 0.0:
                data /= size
        return csr(data.astype(dtype, copy=False), columns, np.array([0, len(data)], dtype=np.int32), (1, width))

    return transform


def softmax(decision: np.ndarray) -> np.ndarray:
    """`sklearn.utils.extmath.softmax(decision, copy=False)` in place, the same operations in the
    same order, without its array-namespace look-up (some 10 µs a call, one call per fold)."""
    decision -= decision.max(axis=1, keepdims=True)
    np.exp(decision, out=decision)
    decision /= decision.sum(axis=1, keepdims=True)
    return decision


def compile_text_stack(stack: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """`TextStack.transform` for an array of strings: the compiled vectorizer, then the inner
    model's arithmetic (logistic regression's softmax or sigmoid, ComplementNB's normalised
    joint log-likelihood, ridge's product) instead of its `predict_proba`, whose validation cost
    about 1 ms a fold on one message; None for an inner model this does not know."""
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.naive_bayes import ComplementNB

    if not getattr(stack, "fitted_", False):
        return None
    vectorize = compile_vectorizer(stack.vectorizer_)
    model = stack.model_
    kind = type(model)
    if vectorize is None or kind not in (LogisticRegression, ComplementNB, Ridge):
        return None
    from scipy.special import expit

    weights = model.feature_log_prob_ if kind is ComplementNB else model.coef_
    weights_t = np.ascontiguousarray(np.atleast_2d(weights).T)
    bias = model.class_log_prior_ if kind is ComplementNB and len(model.classes_) == 1 else (
        0.0 if kind is ComplementNB else model.intercept_)
    mean, scale = stack.mean_, stack.scale_

    def transform(texts: np.ndarray) -> np.ndarray:
        decision = np.asarray(vectorize(texts) @ weights_t) + bias
        if kind is Ridge:
            scores = decision.reshape(-1, 1)
        elif kind is ComplementNB:
            scores = np.exp(decision - decision.max(axis=1, keepdims=True))  # the softmax of the log-likelihood
            scores /= scores.sum(axis=1, keepdims=True)
        elif decision.shape[1] == 1:  # binary logistic regression: P(class 1)
            scores = expit(decision)
        else:
            scores = softmax(decision)
        if scores.shape[1] == 2:  # TextStack keeps the second of two probability columns
            scores = scores[:, 1:]
        return (scores - mean) / scale

    return transform


def hstack_csr(parts: list[Any]) -> sparse.csr_matrix:
    """`sparse.hstack(parts).tocsr()`; for one row of CSR parts (a chatbot's message), built
    straight from their arrays: scipy's block machinery costs some 300 µs for two one-row parts."""
    if len(parts) < 2 or parts[0].shape[0] != 1 or not all(isinstance(p, sparse.csr_matrix) for p in parts):
        return sparse.hstack(parts).tocsr()
    width, shifted = 0, []
    for part in parts:  # Python int offsets: the indices stay int32
        shifted.append(part.indices + width if width else part.indices)
        width += part.shape[1]
    data = np.concatenate([part.data for part in parts]).astype(
        np.result_type(*[part.dtype for part in parts]), copy=False
    )
    indices = np.concatenate(shifted)
    return csr(data, indices.astype(np.int32, copy=False), np.array([0, len(data)], dtype=np.int32), (1, width))


def csr(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    """A CSR matrix from arrays this module built valid (int32 indices, sorted within each row):
    scipy's constructor checks them again, some 10 µs of a one-message request per matrix, three
    per fold model. Should scipy's internals move, the fast path's self-check meets the error at
    load and falls back to the library."""
    matrix = sparse.csr_matrix.__new__(sparse.csr_matrix)
    matrix.data, matrix.indices, matrix.indptr = data, indices, indptr
    matrix._shape = shape
    matrix.maxprint = 50
    return matrix
