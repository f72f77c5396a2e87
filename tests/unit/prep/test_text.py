"""Text features: fitted inside the fold only, usable by every learner, saved safely.

A label-revealing token planted only in validation rows must change nothing the fold's
features say about those rows: the vocabulary and the stacked model never saw it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kiln.data.schema import infer_schema
from kiln.learners.registry import all_learners
from kiln.prep.build import build_prep
from kiln.prep.text import TextStack, Tfidf

WORDS = ["pump", "valve", "seal", "motor", "belt", "filter", "sensor", "gauge", "cable", "panel", "noise", "heat",
         "oil", "leak", "fan", "bolt", "gear", "chain", "drive", "hose"]
TOKEN = "zqjzqj"  # only in validation rows, always with class 1; none of its characters occur elsewhere


def _table(n: int = 160, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    texts = [" ".join(rng.choice(WORDS[:10] if label else WORDS[10:], 6)) + " " + " ".join(rng.choice(WORDS, 3))
             for label in y]
    frame = pd.DataFrame({"load": rng.normal(size=n), "note": texts})
    return frame, y


@pytest.mark.parametrize("family", ["linear", "tree", "knn"])
def test_a_token_planted_only_in_validation_rows_changes_nothing(family: str) -> None:
    frame, y = _table()
    train, val = np.arange(120), np.arange(120, 160)
    # the token, or an unseen word of the same length (text statistics stay equal), in the
    # validation rows of class 1
    planted, control = frame.copy(), frame.copy()
    positives = val[y[val] == 1]
    planted.loc[positives, "note"] = planted.loc[positives, "note"] + f" {TOKEN} {TOKEN}"
    control.loc[positives, "note"] = control.loc[positives, "note"] + f" {TOKEN[::-1]} {TOKEN[::-1]}"
    schema = infer_schema(frame, text=("note",))
    plan = build_prep(schema, family, task="binary", text={"char_ngrams": 4})
    plan.transformer.fit(planted.iloc[train], y[train])
    with_token = plan.transformer.transform(planted.iloc[val])
    without = plan.transformer.transform(control.iloc[val])
    np.testing.assert_array_equal(dense(with_token), dense(without))
    # ...whereas fitting on rows that hold the token does pick it up (the test can fail)
    leaky = build_prep(schema, family, task="binary", text={"char_ngrams": 4}).transformer
    leaky.fit(planted, y)
    assert not np.array_equal(dense(leaky.transform(planted.iloc[val])), dense(leaky.transform(control.iloc[val])))


def test_stacked_scores_of_training_rows_are_inner_out_of_fold() -> None:
    frame, y = _table(200)
    stack = TextStack(task="binary")
    inner = stack.fit_transform(frame[["note"]], y)
    refit = stack.transform(frame[["note"]])
    assert inner.shape == (200, 1)
    # in-sample scores of the refitted model are more confident than the inner out-of-fold ones
    assert np.abs(refit - 0.5).mean() > np.abs(inner - 0.5).mean()
    assert ((inner[:, 0] > 0.5) == y).mean() > 0.8  # and still informative


def test_stack_without_labels_has_no_columns() -> None:
    frame, _ = _table(40)
    assert TextStack().fit_transform(frame[["note"]]).shape == (40, 0)


def test_vocabulary_survives_skops(tmp_path) -> None:
    import skops.io as sio

    from kiln.learners.safe_load import load_skops

    frame, _ = _table(80)
    vectorizer = Tfidf(analyzer="char_wb", ngram_range=(2, 4)).fit(frame["note"])
    sio.dump(vectorizer, tmp_path / "v.skops")
    loaded = load_skops(tmp_path / "v.skops")
    assert loaded.vocabulary_ == vectorizer.vocabulary_
    assert (loaded.transform(frame["note"]) != vectorizer.transform(frame["note"])).nnz == 0


def dense(matrix) -> np.ndarray:
    return matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)


def _cases() -> list:
    return [pytest.param(key, task, id=f"{key}-{task}") for key, learner in sorted(all_learners().items())
            for task in ("binary", "multiclass", "regression") if task in learner.tags.tasks]


@pytest.mark.parametrize(("key", "task"), _cases())
def test_every_learner_learns_from_a_text_column(key: str, task: str) -> None:
    """Conformance on a table whose signal is in its text only: each learner, through its
    family's prep, beats the constant prediction on held-out rows."""
    frame, y = _table(240, seed=1)
    frame["load"] = np.random.default_rng(5).normal(size=len(frame))  # noise only
    if task == "multiclass":
        y = np.where(frame["note"].str.contains("oil"), 2, y)
    target = y.astype("float64") + 0.1 * np.random.default_rng(2).normal(size=len(y)) if task == "regression" else y
    learner_class = all_learners()[key]
    schema = infer_schema(frame, text=("note",))
    plan = build_prep(schema, learner_class.tags.prep, task=task)
    train, val = np.arange(180), np.arange(180, 240)
    X_train = plan.transformer.fit_transform(frame.iloc[train], target[train])
    X_val = plan.transformer.transform(frame.iloc[val])
    learner = learner_class(task=task, n_classes=int(y.max()) + 1 if task != "regression" else 2,
                            params=dict(learner_class.test_params), seed=0)
    assert learner.fit(X_train, target[train], categorical=plan.categorical) is learner
    raw = learner.predict_raw(X_val)
    if task == "regression":
        assert np.mean((raw - target[val]) ** 2) < np.var(target[val])
    else:
        np.testing.assert_allclose(raw.sum(axis=1), 1.0, atol=1e-9)
        assert (raw.argmax(axis=1) == y[val]).mean() > np.bincount(y[val]).max() / len(val)
