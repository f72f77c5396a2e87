"""What an evaluation adds for a classifier that reads a text column.

Per-class precision and recall, the most-confused pairs of classes with example texts,
the accuracy–coverage curve of the reject option (how accurate the answers are as the
model answers fewer rows), and the n-grams that push each class up in the linear members
(their coefficients on the TF-IDF columns).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kiln.evaluation.reject import coverage_curve

PAIRS = 5
EXAMPLES = 3
NGRAMS = 8


@dataclass
class TextEvaluation:
    """Tables about the text classifier on the evaluated rows."""

    per_class: pd.DataFrame  # class, support, precision, recall
    confused: pd.DataFrame  # true, predicted, rows, examples
    coverage: pd.DataFrame  # threshold, coverage, accuracy
    ngrams: pd.DataFrame = field(default_factory=pd.DataFrame)  # class, ngram, weight (linear members)

    def to_dict(self) -> dict:
        names = ("per_class", "confused", "coverage", "ngrams")
        return {name: getattr(self, name).to_dict("records") for name in names}


def text_evaluation(model, frame: pd.DataFrame, y: np.ndarray, proba: np.ndarray) -> TextEvaluation | None:
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
    names = [str(c) for c in model.classes_ or []]
    rule = model.reject
    reject_class = names.index(rule["label"]) if rule and rule["label"] in names else None
    coverage = pd.DataFrame(coverage_curve(proba, y, reject_class))
    return TextEvaluation(per_class, confused, coverage, _ngrams(model, classes))


def _ngrams(model, classes: list[str]) -> pd.DataFrame:
    """The n-grams with the largest coefficients for each class, from the first linear member."""
    rows = []
    for member in model.members:
        if member.learner != "linear":
            continue
        fold = member.folds[0]
        estimator = getattr(fold.learner, "estimator_", None)
        coefficients = getattr(estimator, "coef_", None)
        if coefficients is None:
            continue
        try:
            names = np.asarray(fold.prep.get_feature_names_out(), dtype=object)
        except (AttributeError, ValueError):
            continue
        coefficients = np.atleast_2d(coefficients)
        for row, weights in enumerate(coefficients):
            label = classes[1] if len(coefficients) == 1 and len(classes) == 2 else classes[row]
            for index in np.argsort(-weights)[:NGRAMS]:
                rows.append({"class": label, "ngram": str(names[index]), "weight": float(weights[index])})
        break
    return pd.DataFrame(rows, columns=["class", "ngram", "weight"])
