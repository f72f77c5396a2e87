"""The serving fast path's compiled text steps equal scikit-learn's: the TF-IDF look-ups and
the stacked text model's scores (every inner model TextStack fits: logistic regression for
two and for a few classes, ComplementNB for many, ridge for regression)."""

from __future__ import annotations

import numpy as np
import pytest

from kiln.prep.text import STACK_MAX_LOGISTIC_CLASSES, TextStack
from kiln.serve.fast_text import compile_text_stack, compile_vectorizer

WORDS = ("press", "leak", "oil", "jam", "stuck", "hot", "noise", "rattle", "the", "again", "line", "pump", "é", "日本")


def _texts(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([" ".join(rng.choice(WORDS, rng.integers(0, 7))) for _ in range(n)], dtype=object)


@pytest.mark.parametrize(("task", "n_classes"), [("binary", 2), ("multiclass", 3),
                                                 ("multiclass", STACK_MAX_LOGISTIC_CLASSES + 2), ("regression", 0)])
@pytest.mark.parametrize("standardize", [False, True])
def test_compiled_stack_scores_equal_the_library(task: str, n_classes: int, standardize: bool) -> None:
    texts = _texts(200, 0)
    rng = np.random.default_rng(1)
    y = rng.normal(size=len(texts)) if task == "regression" else rng.integers(0, n_classes, len(texts))
    stack = TextStack(task=task, standardize=standardize)
    stack.fit(texts.reshape(-1, 1), y)
    compiled = compile_text_stack(stack)
    assert compiled is not None
    fresh = np.append(_texts(50, 2), ["", "unseen words only", "LEAK Oil"])
    expected = stack.transform(fresh.reshape(-1, 1))
    got = compiled(fresh)
    assert got.shape == expected.shape == (len(fresh), stack.n_out_)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(compiled(fresh[:1]), expected[:1], rtol=1e-9, atol=1e-12)  # one message


def test_an_unfitted_stack_is_left_to_the_library() -> None:
    stack = TextStack().fit(_texts(20, 0).reshape(-1, 1), None)  # no labels: no columns
    assert compile_text_stack(stack) is None and stack.transform(_texts(3, 1).reshape(-1, 1)).shape == (3, 0)


def test_compiled_vectorizer_equals_the_library() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = _texts(200, 0)
    for vectorizer in (TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), TfidfVectorizer(analyzer="char_wb",
                                                                                                ngram_range=(2, 5))):
        vectorizer.fit(texts)
        fresh = _texts(30, 3)
        np.testing.assert_allclose(compile_vectorizer(vectorizer)(fresh).toarray(),
                                   vectorizer.transform(fresh).toarray(), rtol=1e-12, atol=1e-15)


def test_matrices_built_without_scipy_checks_pass_them() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from kiln.serve.fast_text import hstack_csr

    texts = _texts(100, 0)
    word, char = (TfidfVectorizer().fit(texts), TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).fit(texts))
    for fresh in (_texts(5, 4), _texts(1, 5), np.array(["zzz"], dtype=object)):  # a batch, a message, no known term
        parts = [compile_vectorizer(word)(fresh), compile_vectorizer(char)(fresh)]
        for matrix in (*parts, hstack_csr(parts)):
            matrix.check_format(full_check=True)
        expected = np.hstack([word.transform(fresh).toarray(), char.transform(fresh).toarray()])
        np.testing.assert_allclose(hstack_csr(parts).toarray(), expected, rtol=1e-12)


def test_vectorizers_of_one_setting_share_their_term_counts_and_each_equals_the_library() -> None:
    """Fold vectorizers fitted on different rows with the same analyzer share one `TermCounter`
    (a message analysed once, not once per fold); each still maps the terms to its own columns.
    More texts than the cache keeps, a text too long to keep, an empty batch."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from kiln.serve.fast_text import CACHED_CHARS, CACHED_TEXTS, term_counter

    texts = _texts(300, 0)
    folds = [TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True).fit(texts[i::3])
             for i in range(3)]
    assert term_counter(folds[0]) is term_counter(folds[1]) is term_counter(folds[2])
    assert term_counter(TfidfVectorizer(analyzer=str.split)) is not term_counter(TfidfVectorizer(analyzer=str.split))
    fresh = np.append(_texts(CACHED_TEXTS + 10, 6), ["oil " * CACHED_CHARS, "", "zzz"])
    for fold in folds:
        compiled = compile_vectorizer(fold)
        for batch in (fresh, fresh[:1], fresh[-3:-2], fresh[-2:-1]):  # a batch, one message, long, empty
            np.testing.assert_allclose(compiled(batch).toarray(), fold.transform(batch).toarray(), rtol=1e-12)
        assert compiled(fresh[:0]).shape == (0, len(fold.vocabulary_))
