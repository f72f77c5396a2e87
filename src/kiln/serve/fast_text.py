"""A fitted CountVectorizer or TfidfVectorizer compiled into dictionary look-ups.

scikit-learn's `transform` validates its input and its matrix at every call (narwhals
probes, `check_array`, parameter validation): about 3 ms for one short message through a
word and a character vectorizer, against some 50 µs for the n-grams themselves. The fitted
state is the analyzer, the vocabulary and the idf weights, so a message becomes its terms'
columns and counts, then the same sublinear tf, idf and row norm as
`TfidfTransformer.transform`, in the same order. The fast path's self-check
(`FastPredictor._check_parts`) compares the result with the library's own on synthetic
texts and falls back to it on any difference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import sparse


def compile_vectorizer(step: Any) -> Callable[[np.ndarray], sparse.csr_matrix] | None:
    """`step.transform` for an array of strings, or None for a vectorizer this does not know
    (a callable analyzer or preprocessor is fine: `build_analyzer` runs it as the library does)."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    if not isinstance(step, CountVectorizer) or not hasattr(step, "vocabulary_"):
        return None
    tfidf = isinstance(step, TfidfVectorizer)
    if tfidf and step.norm not in (None, "l1", "l2"):
        return None
    analyze, lookup = step.build_analyzer(), step.vocabulary_.get
    width, binary, dtype = len(step.vocabulary_), bool(step.binary), step.dtype
    idf = step.idf_ if tfidf and step.use_idf else None
    sublinear = tfidf and bool(step.sublinear_tf)
    norm = step.norm if tfidf else None

    def transform(texts: np.ndarray) -> sparse.csr_matrix:
        indptr, indices, values = [0], [], []
        for text in texts:
            counts: dict[int, int] = {}
            for term in analyze(text):
                column = lookup(term)
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
            for column in sorted(counts):
                indices.append(column)
                values.append(counts[column])
            indptr.append(len(indices))
        data = np.asarray(values, dtype=np.float64)
        columns = np.asarray(indices, dtype=np.int32)
        if binary:
            data[:] = 1.0
        if sublinear:
            np.log(data, out=data)
            data += 1.0
        if idf is not None:
            data *= idf[columns]
        if norm is not None and len(data):
            rows = np.repeat(np.arange(len(texts)), np.diff(indptr))
            size = np.bincount(rows, weights=data * data if norm == "l2" else np.abs(data), minlength=len(texts))
            size = np.sqrt(size) if norm == "l2" else size
            size[size == 0.0] = 1.0
            data /= size[rows]
        return sparse.csr_matrix(
            (data.astype(dtype, copy=False), columns, np.asarray(indptr, dtype=np.int32)), shape=(len(texts), width)
        )

    return transform


def hstack_csr(parts: list[Any]) -> sparse.csr_matrix:
    """`sparse.hstack(parts).tocsr()`; for one row of CSR parts (a chatbot's message), built
    straight from their arrays: scipy's block machinery costs some 300 µs for two one-row parts."""
    if len(parts) < 2 or parts[0].shape[0] != 1 or not all(isinstance(p, sparse.csr_matrix) for p in parts):
        return sparse.hstack(parts).tocsr()
    offsets = np.cumsum([0] + [part.shape[1] for part in parts])
    data = np.concatenate([part.data for part in parts]).astype(
        np.result_type(*[part.dtype for part in parts]), copy=False
    )
    indices = np.concatenate([part.indices + offset for part, offset in zip(parts, offsets, strict=False)])
    return sparse.csr_matrix((data, indices, np.array([0, len(data)])), shape=(1, int(offsets[-1])))
