"""What an evaluation adds for a classifier that reads a text column.

Per-class precision and recall, the most-confused pairs of classes with example texts,
the accuracy–coverage curve of the reject option (how accurate the answers are as the
model answers fewer rows) with the stored threshold's point, and the n-grams that push
each class up:

- a linear member: its coefficients on the word and character TF-IDF columns (each
  vectorizer's names read from its own block of the prep output: word and character
  vocabularies share many strings, "leak" is both);
- a tree member: Tree SHAP. Trees read a text through the stacked model's scores
  (`prep.text.TextStack`), so the SHAP value of the text column for a class is spread
  over the words of the stack's vocabulary: an n-gram's weight is the text's contribution
  to the class's score summed over the evaluated messages that contain it, per evaluated
  message (a sum, not a mean: a rare n-gram that happens to share a few messages with the
  class's real word would otherwise rank beside it).

The member with the larger ensemble weight of the two kinds is the one read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kiln.evaluation.reject import answered, coverage_curve

if TYPE_CHECKING:
    from kiln.model import Member, Model

PAIRS = 5
EXAMPLES = 3
NGRAMS = 8
NGRAM_COLUMNS = ["class", "ngram", "kind", "weight"]  # kind: "word" or "char"
SHAP_ROWS = 2000  # evaluated messages explained for a tree member (a seeded sample beyond)
SHAP_MIN_ROWS = 2  # an n-gram in fewer evaluated messages gets no SHAP weight (one message is an anecdote)


@dataclass
class TextEvaluation:
    """Tables about the text classifier on the evaluated rows."""

    per_class: pd.DataFrame  # class, support, precision, recall
    confused: pd.DataFrame  # true, predicted, rows, examples
    coverage: pd.DataFrame  # threshold, coverage, accuracy
    ngrams: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=NGRAM_COLUMNS))
    ngrams_source: str = ""  # which member and method the n-gram weights come from
    reject: dict[str, Any] | None = None  # the stored threshold on these rows: threshold, label, coverage, accuracy

    def to_dict(self) -> dict:
        names = ("per_class", "confused", "coverage", "ngrams")
        out: dict[str, Any] = {name: getattr(self, name).to_dict("records") for name in names}
        out.update(ngrams_source=self.ngrams_source, reject=self.reject)
        return out


def text_evaluation(model: Model, frame: pd.DataFrame, y: np.ndarray, proba: np.ndarray) -> TextEvaluation | None:
    """The text tables for `model` on labelled `frame` (codes `y`, probabilities `proba`), or None
    when the model is no classifier or reads no text column."""
    texts = model.schema.of_kind("text")
    if not texts or model.task == "regression":
        return None
    from sklearn.metrics import precision_recall_fscore_support

    classes = [str(c) for c in model.classes_ or []]
    predicted = proba.argmax(axis=1)
    labels = list(range(len(classes)))
    precision, recall, _, support = precision_recall_fscore_support(y, predicted, labels=labels, zero_division=0)
    per_class = pd.DataFrame({"class": classes, "support": support, "precision": precision, "recall": recall})
    text = frame[texts[0]].astype(str).to_numpy()
    wrong = pd.DataFrame({"true": y, "predicted": predicted})[y != predicted]
    pairs = wrong.value_counts().head(PAIRS)
    confused = pd.DataFrame([{"true": classes[t], "predicted": classes[p], "rows": int(n),
                              "examples": [s[:120] for s in text[(y == t) & (predicted == p)][:EXAMPLES]]}
                             for (t, p), n in pairs.items()], columns=["true", "predicted", "rows", "examples"])
    rule = model.reject
    reject_class = classes.index(str(rule["label"])) if rule and str(rule["label"]) in classes else None
    coverage = pd.DataFrame(coverage_curve(proba, y, reject_class), columns=["threshold", "coverage", "accuracy"])
    ngrams, source = class_ngrams(model, frame, classes)
    return TextEvaluation(per_class, confused, coverage, ngrams, source, _stored_point(rule, proba, y, reject_class))


def _stored_point(rule: dict[str, Any] | None, proba: np.ndarray, y: np.ndarray,
                  reject_class: int | None) -> dict[str, Any] | None:
    """Where the stored reject threshold lands on these rows: the share answered and their accuracy."""
    if not rule:
        return None
    keep = answered(proba, float(rule["threshold"]), reject_class)
    accuracy = float((proba.argmax(axis=1)[keep] == y[keep]).mean()) if keep.any() else None
    return {"threshold": float(rule["threshold"]), "label": str(rule["label"]), "coverage": float(keep.mean()),
            "accuracy": accuracy}


def class_ngrams(model: Model, frame: pd.DataFrame, classes: list[str]) -> tuple[pd.DataFrame, str]:
    """The NGRAMS n-grams pushing each class up most, and a phrase saying where they come from
    (empty table and phrase when no member reads the text through n-grams)."""
    from kiln.errors import InvalidOptionError

    linear = [m for m in model.members if m.learner == "linear" and _tfidf_blocks(m.folds[0].prep)]
    try:
        from kiln.evaluation.explain import tree_member

        tree = [tree_member(model)]
    except InvalidOptionError:
        tree = []
    candidates = sorted([*linear, *tree], key=lambda m: -m.weight)
    for member in candidates:
        found = _linear_ngrams(member, classes) if member.learner == "linear" else _tree_ngrams(model, member, frame,
                                                                                               classes)
        if found is not None and not found[0].empty:
            return found
    return pd.DataFrame(columns=NGRAM_COLUMNS), ""


def _tfidf_blocks(prep: Any) -> list[tuple[str, np.ndarray, slice]]:
    """(kind, n-gram names, output columns) of each TF-IDF vectorizer in a fitted ColumnTransformer."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline

    blocks = []
    for name, transformer, _ in getattr(prep, "transformers_", []):
        step = transformer.steps[-1][1] if isinstance(transformer, Pipeline) else transformer
        if not isinstance(step, TfidfVectorizer) or name not in prep.output_indices_:
            continue
        kind = "char" if str(step.analyzer).startswith("char") else "word"
        blocks.append((kind, np.asarray(step.get_feature_names_out(), dtype=object), prep.output_indices_[name]))
    return blocks


def _linear_ngrams(member: Member, classes: list[str]) -> tuple[pd.DataFrame, str] | None:
    """The largest coefficients per class on the TF-IDF columns of the member's first fold."""
    fold = member.folds[0]
    coefficients = getattr(getattr(fold.learner, "estimator_", None), "coef_", None)
    if coefficients is None:
        return None
    coefficients = np.atleast_2d(coefficients)
    blocks = _tfidf_blocks(fold.prep)
    columns = np.concatenate([np.arange(s.start, s.stop) for _, _, s in blocks])
    names = np.concatenate([names for _, names, _ in blocks])
    kinds = np.concatenate([[kind] * len(names) for kind, names, _ in blocks])
    if len(coefficients) == 1 and len(classes) == 2:  # binary: one row, for class 1; class 0 is its negative
        per_class = {classes[1]: coefficients[0], classes[0]: -coefficients[0]}
    else:
        seen = np.asarray(fold.learner.classes_seen_)
        per_class = {classes[seen[row]]: weights for row, weights in enumerate(coefficients)}
    rows = []
    for label in classes:
        if label not in per_class:
            continue
        weights = per_class[label][columns]
        for i in np.argsort(-weights, kind="stable")[:NGRAMS]:
            rows.append({"class": label, "ngram": str(names[i]), "kind": str(kinds[i]), "weight": float(weights[i])})
    source = (f"the coefficients of the linear member {member.name} on its word and character TF-IDF "
              "columns (its first fold model)")
    return pd.DataFrame(rows, columns=NGRAM_COLUMNS), source


def _tree_ngrams(model: Model, member: Member, frame: pd.DataFrame,
                 classes: list[str]) -> tuple[pd.DataFrame, str] | None:
    """Tree SHAP of the text column per class, spread over the stacked text model's n-grams."""
    from kiln.errors import MissingDependencyError
    from kiln.evaluation.explain import class_contributions
    from kiln.prep.text import TextStack

    text = model.schema.of_kind("text")[0]
    fold = member.folds[0]
    stack = next((t for _, t, cols in fold.prep.transformers_
                  if isinstance(t, TextStack) and list(cols) == [text] and getattr(t, "fitted_", False)), None)
    if stack is None:
        return None
    rows = frame if len(frame) <= SHAP_ROWS else frame.sample(SHAP_ROWS, random_state=0)
    names = model.schema.names
    try:
        values = class_contributions(fold, fold.prep.transform(model.schema.coerce(rows)), names)
    except MissingDependencyError:
        return None
    of_text = values[:, names.index(text), :]  # rows × outputs
    if of_text.shape[1] == 1:  # binary: the positive class's score; class 0 is pushed by its negative
        per_class = {classes[1]: of_text[:, 0], classes[0]: -of_text[:, 0]}
    else:
        seen = np.asarray(fold.learner.classes_seen_)
        per_class = {classes[seen[k]]: of_text[:, k] for k in range(of_text.shape[1])}
    strings = rows[text].astype(object).where(rows[text].notna(), "").astype(str).to_numpy()
    presence = (stack.vectorizer_.transform(strings) > 0).astype(np.float64).tocsc()
    counts = np.asarray(presence.sum(axis=0)).ravel()
    vocabulary = np.asarray(stack.vectorizer_.get_feature_names_out(), dtype=object)
    usable = counts >= SHAP_MIN_ROWS
    out = []
    for label in classes:
        if label not in per_class:
            continue
        weights = np.where(usable, (presence.T @ per_class[label]) / len(rows), -np.inf)
        for i in np.argsort(-weights, kind="stable")[:NGRAMS]:
            if np.isfinite(weights[i]):
                out.append({"class": label, "ngram": str(vocabulary[i]), "kind": "word", "weight": float(weights[i])})
    source = (f"Tree SHAP of the tree member {member.name} ({member.learner}, its first fold model): the text "
              f"reaches it through a stacked model's scores, so an n-gram's weight is the SHAP contribution of the "
              f"text to the class's score summed over the evaluated messages that contain it, divided by the "
              f"{len(rows):,} messages evaluated (n-grams in at least {SHAP_MIN_ROWS} of them)")
    return pd.DataFrame(out, columns=NGRAM_COLUMNS), source
