"""The n-grams that drive each class: a word planted in one class's messages is among that
class's top n-grams, for a linear member (its coefficients) and a tree member (Tree SHAP of
the text through the stacked model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kiln.evaluation.text import NGRAMS, text_evaluation

FILLER = ("the", "press", "line", "two", "again", "today", "please", "check", "machine", "shift")
PLANTED = {"leak": "drip", "jam": "stuck", "noise": "rattle"}


def _messages(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = rng.choice(list(PLANTED), n)
    texts = [" ".join([*rng.choice(FILLER, 6), PLANTED[label] if rng.random() < 0.9 else "hello"])
             for label in labels]
    return pd.DataFrame({"note": pd.Series(texts, dtype=object), "issue": labels})


def _evaluation(model, frame: pd.DataFrame):
    proba = np.asarray(model.predict_raw(frame[["note"]]))
    y = model.target.encode(frame["issue"])
    return text_evaluation(model, frame, y, proba)


@pytest.mark.parametrize("learner", ["linear", "lightgbm"])
def test_a_planted_class_word_is_among_that_class_top_ngrams(assemble, learner: str) -> None:
    model = assemble(_messages(240, 0), "issue", "multiclass", learner)
    text = _evaluation(model, _messages(120, 1))
    assert text is not None and ("Tree SHAP" in text.ngrams_source) == (learner == "lightgbm")
    assert set(text.ngrams["class"]) == set(PLANTED)
    for label, word in PLANTED.items():
        top = text.ngrams[text.ngrams["class"] == label]
        assert 1 <= len(top) <= NGRAMS
        assert word in set(top[top["kind"] == "word"]["ngram"]), (label, top)
        assert top["weight"].iloc[0] > 0
        other = {w for other, w in PLANTED.items() if other != label}
        assert not other & set(top["ngram"].head(3)), (label, top)  # another class's word does not lead


def test_binary_classes_get_opposite_ngrams(assemble) -> None:
    frame = _messages(300, 2)
    frame = frame[frame["issue"] != "noise"].reset_index(drop=True)
    model = assemble(frame, "issue", "binary", "linear")
    text = _evaluation(model, frame)
    by_class = {label: set(group["ngram"]) for label, group in text.ngrams.groupby("class")}
    assert "drip" in by_class["leak"] and "stuck" in by_class["jam"]
    assert text.reject is None and text.to_dict()["ngrams_source"].startswith("the coefficients")
