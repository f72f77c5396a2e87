"""Text drift: what served messages look like against the training texts.

For each text column, as drift rows beside the other features (same tests, effect sizes
and alerts, `monitor.statistics`): the share of each message's words that training never
had (out of vocabulary; the reference's own share is measured on one half of the training
sample against the other half's vocabulary, so both sides are out-of-sample), the length in
characters, and, for a model with the reject option, answered against rejected. Frequent
new n-grams (words and word pairs in ≥ 1% of messages and ≥ 3 of them, never in the training
sample) are listed apart (`new_frequent_ngrams`); one in ≥ NEW_NGRAM_ALERT_SHARE of the
window's messages is a new topic, and alerts (monitor.run).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from kiln.monitor.statistics import FeatureDrift, categorical_drift, numeric_drift

TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern
NEW_WORD_SHARE = 0.01
NEW_WORD_MIN = 3
NEW_NGRAM_MAX = 20  # listed per text column
NEW_NGRAM_ALERT_SHARE = 0.1  # a never-seen n-gram in this share of the window's messages alerts


def _tokens(texts: pd.Series) -> list[list[str]]:
    return [TOKEN.findall(str(t).lower()) for t in texts.fillna("")]


def _oov(tokens: list[list[str]], vocabulary: set[str]) -> np.ndarray:
    return np.array([np.mean([w not in vocabulary for w in words]) if words else np.nan for words in tokens])


def text_drift(model, reference: pd.DataFrame, current: pd.DataFrame,
               current_proba: np.ndarray | None = None) -> list[FeatureDrift]:
    """Drift rows for every text column of `model` (reference: the bundle's sample, with its
    out-of-fold outputs; `current_proba`: the served probabilities, for the reject rate)."""
    rows = []
    for name in model.schema.of_kind("text"):
        if name not in reference.columns or name not in current.columns:
            continue
        ref_tokens = _tokens(reference[name])
        half = len(ref_tokens) // 2
        if half < 2:
            continue
        vocabulary = {w for words in ref_tokens for w in words}
        first_half = {w for words in ref_tokens[:half] for w in words}
        rows.append(numeric_drift(f"{name}: out-of-vocabulary share", _oov(ref_tokens[half:], first_half),
                                  _oov(_tokens(current[name]), vocabulary)))
        rows.append(numeric_drift(f"{name}: length", reference[name].fillna("").astype(str).str.len().to_numpy(float),
                                  current[name].fillna("").astype(str).str.len().to_numpy(float)))
    classes = [str(c) for c in model.classes_ or []]
    columns = [f"__final__proba_{c}" for c in classes]
    if rows and model.reject is not None and current_proba is not None and set(columns) <= set(reference.columns):
        answer = np.array(["rejected", "answered"])
        rows.append(categorical_drift("answers: rejected as out of scope",
                                      answer[model.answered(reference[columns].to_numpy(float)).astype(int)],
                                      answer[model.answered(current_proba).astype(int)]))
    return rows


def _grams(words: list[str], longest: int) -> set[str]:
    return {" ".join(words[i:i + n]) for n in range(1, longest + 1) for i in range(len(words) - n + 1)}


def new_frequent_ngrams(model, reference: pd.DataFrame, current: pd.DataFrame,
                        longest: int = 2) -> dict[str, list[tuple[str, int]]]:
    """Per text column: n-grams of up to `longest` words in ≥ 1% (and ≥ 3) of served messages that
    the training sample never had, with how many messages hold each, most frequent first. A pair
    is listed only when it is more than its new words (each of which is listed already)."""
    out = {}
    for name in model.schema.of_kind("text"):
        if name not in reference.columns or name not in current.columns:
            continue
        seen = set().union(*(_grams(words, longest) for words in _tokens(reference[name])))
        counts: dict[str, int] = {}
        for words in _tokens(current[name]):
            for gram in _grams(words, longest) - seen:
                counts[gram] = counts.get(gram, 0) + 1
        floor = max(NEW_WORD_MIN, NEW_WORD_SHARE * len(current))
        frequent = {g: n for g, n in counts.items() if n >= floor}
        kept = [(g, n) for g, n in frequent.items()  # "kubernetes pod" adds nothing when "kubernetes" is new
                if " " not in g or not any(w in frequent and frequent[w] == n for w in g.split())]
        out[name] = sorted(kept, key=lambda x: (-x[1], x[0]))[:NEW_NGRAM_MAX]
    return out


def new_frequent_words(model, reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, list[tuple[str, int]]]:
    """Per text column: words in ≥ 1% (and ≥ 3) of served messages that training never had."""
    return new_frequent_ngrams(model, reference, current, longest=1)


def watched_column(row: str, texts: list[str]) -> str | None:
    """The text column (or "answers") a text drift row is about; None for any other row."""
    head = row.split(": ", 1)[0]
    return head if ": " in row and (head in texts or head == "answers") else None
