"""Coded checks of free-text columns (TX001-TX005), run by `kiln.data.checks` beside the DQ codes.

They read the text columns the schema infers, and the categorical columns that look like
text in disguise. Served texts longer than `MAX_TEXT_CHARS` are refused (422), so a
training text over it is told: the model learnt from text the service will not take.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import pandas as pd

from kiln.data.schema import Schema

MAX_TEXT_CHARS = 10_000  # served texts above this are refused (kiln.serve.text)
NEAR_EMPTY_CHARS = 2  # a text with fewer non-blank characters says nothing
NEAR_EMPTY_SHARE = 0.01
SCRIPT_SHARE = 0.05  # a second script in at least this share of texts is a mix
CATEGORY_UNIQUE_SHARE = 0.2  # a "text" column repeating its values this much is a category
TEXT_LIKE_WORDS = 3.0  # a categorical column averaging this many words, mostly unique, is text
TEXT_LIKE_UNIQUE_SHARE = 0.3
SAMPLE = 20_000

# code: (title, severity, advice)
TEXT_CHECKS: dict[str, tuple[str, str, str]] = {
    "TX001": ("Empty or near-empty texts", "warning",
              "Fill them in or drop those rows; an empty message gives the model nothing to read, and "
              "kiln refuses an empty text at prediction time."),
    "TX002": ("Same text, different labels", "warning",
              "Check the labels of these texts: identical inputs with different targets are label noise "
              "(or the label depends on something the text does not say)."),
    "TX003": ("Very long texts", "warning",
              f"Shorten or split them: kiln's service refuses texts over {MAX_TEXT_CHARS:,} characters (422), "
              "and TF-IDF weighs a long text like many short ones."),
    "TX004": ("Mixed scripts or languages", "info",
              "Check that every script is meant to be there; word n-grams do not carry across languages, so "
              "each language needs its own examples of each class."),
    "TX005": ("Text column that is an identifier or a category, or the other way round", "warning",
              "Declare the column's kind: --text-column COL for free text read as a category, or drop an "
              "identifier; a category read as text loses nothing, but an id read as text overfits."),
}


def text_findings(frame: pd.DataFrame, schema: Schema, target: str | None) -> Iterator[tuple[str, str | None, str]]:
    """(code, column, detail) for every text problem in `frame`."""
    for name in schema.of_kind("text"):
        values = frame[name].dropna().astype(str)
        if len(values) > SAMPLE:
            values = values.sample(SAMPLE, random_state=0)
        sampled = f" (in a sample of {SAMPLE:,})" if len(values) == SAMPLE else ""
        stripped = values.str.strip()
        near_empty = int((stripped.str.len() < NEAR_EMPTY_CHARS).sum())
        if near_empty and near_empty / len(values) >= NEAR_EMPTY_SHARE:
            yield "TX001", name, f"{name}: {near_empty:,} of {len(values):,} texts{sampled} are empty or near-empty."
        if target is not None and target in frame.columns:
            yield from _conflicts(frame, name, target)
        long = int((values.str.len() > MAX_TEXT_CHARS).sum())
        if long:
            yield "TX003", name, (f"{name}: {long:,} texts{sampled} are longer than {MAX_TEXT_CHARS:,} characters "
                                  f"(the longest has {int(values.str.len().max()):,}).")
        scripts = _scripts(values)
        mixed = {script: share for script, share in scripts.items() if share >= SCRIPT_SHARE}
        if len(mixed) > 1:
            listed = ", ".join(f"{script} {share:.0%}" for script, share in sorted(mixed.items(), key=lambda x: -x[1]))
            yield "TX004", name, f"{name}: texts written in more than one script{sampled}: {listed}."
        unique_share = values.nunique() / max(len(values), 1)
        words = values.str.split().str.len().mean()
        if unique_share < CATEGORY_UNIQUE_SHARE and len(values) >= 50:
            yield "TX005", name, (f"{name}: read as text, but only {values.nunique():,} distinct values in "
                                  f"{len(values):,} rows: a category.")
        elif unique_share > 0.95 and words < 1.2:
            yield "TX005", name, f"{name}: read as text, but single tokens unique per row: an identifier."
    for name in schema.of_kind("categorical"):
        values = frame[name].dropna().astype(str)
        if len(values) < 50:
            continue
        words = values.str.split().str.len().mean()
        if words >= TEXT_LIKE_WORDS and values.nunique() / len(values) >= TEXT_LIKE_UNIQUE_SHARE:
            yield "TX005", name, (f"{name}: read as a category, but its values average {words:.1f} words and "
                                  f"{values.nunique():,} of {len(values):,} are distinct: free text "
                                  f"(--text-column {name}).")


def _conflicts(frame: pd.DataFrame, name: str, target: str) -> Iterator[tuple[str, str | None, str]]:
    rows = frame[[name, target]].dropna()
    key = rows[name].astype(str).str.strip().str.lower()
    labels = rows[target].astype(str).groupby(key).nunique()
    noisy = labels[labels > 1]
    if noisy.empty:
        return
    examples = []
    for text in noisy.index[:3]:
        seen = sorted(rows.loc[key == text, target].astype(str).unique())[:3]
        shown = text if len(text) <= 40 else text[:40] + "…"
        examples.append(f"{shown!r} → {', '.join(seen)}")
    total = int(key.isin(noisy.index).sum())
    yield "TX002", name, (f"{name}: {len(noisy):,} distinct texts ({total:,} rows) carry more than one label of "
                          f"{target}, e.g. {'; '.join(examples)}.")


def _scripts(values: pd.Series, limit: int = 2000) -> dict[str, float]:
    """Share of texts whose letters are mostly of each script (the first word of a letter's
    Unicode name: LATIN, CYRILLIC, ARABIC, CJK, ...)."""
    counts: dict[str, int] = {}
    sample = values.head(limit)
    for text in sample:
        letters: dict[str, int] = {}
        for char in text[:500]:
            if char.isalpha():
                script = unicodedata.name(char, "UNKNOWN").split(" ")[0]
                letters[script] = letters.get(script, 0) + 1
        if letters:
            main = max(letters, key=letters.__getitem__)
            counts[main] = counts.get(main, 0) + 1
    total = max(len(sample), 1)
    return {script: n / total for script, n in counts.items()}
