"""The reject option: answer `out_of_scope` when the model is not confident enough.

The threshold is on the confidence (the top class probability) and is chosen on
out-of-fold predictions, so it was never fitted to the rows it is judged on. `auto` takes
the lowest threshold whose kept answers reach the stated precision *at the lower end of a
95% Wilson interval*, not merely on average, so that new rows from the same data reach it
too (tests/unit/evaluation/test_reject.py measures that on held-out rows). A training set
with an out-of-scope class (the reserved label) keeps it as a class: a row predicted as
that class is rejected whatever its confidence, and every out-of-scope row the model
answers with an intent counts against the precision.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from kiln.errors import InvalidOptionError

DEFAULT_LABEL = "out_of_scope"
DEFAULT_PRECISION = 0.9
Z95 = 1.959963984540054
CURVE_POINTS = 21


@dataclass(frozen=True)
class RejectRule:
    """What a model with the reject option stores (manifest["reject"])."""

    threshold: float
    label: str
    mode: str  # "auto" (chosen for `target_precision`) or "manual" (set by hand)
    target_precision: float | None
    oof_precision: float  # precision of the kept out-of-fold answers
    oof_coverage: float  # share of out-of-fold rows answered (not rejected)
    out_of_scope_rows: int  # training rows labelled `label`
    out_of_scope_caught: float | None  # share of them rejected out of fold
    curve: list[dict[str, float]]  # accuracy against coverage, out of fold

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_reject(value: str | float | None) -> float | str | None:
    """`--reject-below`: None, "auto" or a confidence threshold strictly between 0 and 1."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0.0 < number < 1.0:
        raise InvalidOptionError(f"--reject-below must be 'auto' or a confidence between 0 and 1, got {value!r}.")
    return number


def wilson_low(correct: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Lower end of the 95% Wilson interval of correct/kept (0 where nothing is kept)."""
    kept = np.asarray(kept, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(kept > 0, correct / np.maximum(kept, 1), 0.0)
        centre = p + Z95**2 / (2 * kept)
        spread = Z95 * np.sqrt(p * (1 - p) / kept + Z95**2 / (4 * kept**2))
        low = (centre - spread) / (1 + Z95**2 / kept)
    return np.where(kept > 0, low, 0.0)


def answered(proba: np.ndarray, threshold: float, reject_class: int | None) -> np.ndarray:
    """True where the model answers (confident enough, and not the out-of-scope class)."""
    keep = proba.max(axis=1) >= threshold
    if reject_class is not None:
        keep &= proba.argmax(axis=1) != reject_class
    return keep


def choose_reject(proba: np.ndarray, y: np.ndarray, classes: list, *, setting: float | str,
                  label: str = DEFAULT_LABEL, target_precision: float = DEFAULT_PRECISION) -> RejectRule:
    """The rule for out-of-fold `proba` (n × classes) and true codes `y`."""
    if not 0.0 < target_precision < 1.0:
        raise InvalidOptionError(f"--reject-precision must be between 0 and 1, got {target_precision}.")
    names = [str(c) for c in classes]
    reject_class = names.index(label) if label in names else None
    confidence = proba.max(axis=1)
    predicted = proba.argmax(axis=1)
    in_scope = y != reject_class if reject_class is not None else np.ones(len(y), dtype=bool)
    # An answer is right when it names the true intent; an out-of-scope row answered is wrong.
    right = (predicted == y) & in_scope
    eligible = predicted != reject_class if reject_class is not None else np.ones(len(y), dtype=bool)
    if setting == "auto":
        order = np.argsort(-confidence[eligible], kind="stable")
        conf_sorted = confidence[eligible][order]
        kept = np.arange(1, len(order) + 1)
        lows = wilson_low(np.cumsum(right[eligible][order]), kept)
        # a cut is only between distinct confidences: take the last row of each tie group
        last_of_tie = np.r_[conf_sorted[1:] != conf_sorted[:-1], True]
        good = np.flatnonzero((lows >= target_precision) & last_of_tie)
        threshold = float(conf_sorted[good[-1]]) if len(good) else float(np.nextafter(1.0, 2.0))
        mode, target = "auto", target_precision
    else:
        threshold, mode, target = float(setting), "manual", None
    keep = answered(proba, threshold, reject_class)
    precision = float(right[keep].mean()) if keep.any() else float("nan")
    n_oos = int((~in_scope).sum())
    caught = float((~keep[~in_scope]).mean()) if n_oos else None
    return RejectRule(threshold, label, mode, target, precision, float(keep.mean()), n_oos, caught,
                      coverage_curve(proba, y, reject_class))


def coverage_curve(proba: np.ndarray, y: np.ndarray, reject_class: int | None = None) -> list[dict[str, float]]:
    """Accuracy of the answered rows against the share answered, as the threshold rises."""
    points = []
    for threshold in np.quantile(proba.max(axis=1), np.linspace(0.0, 0.95, CURVE_POINTS)):
        keep = answered(proba, float(threshold), reject_class)
        if not keep.any():
            continue
        right = proba.argmax(axis=1)[keep] == y[keep]
        points.append({"threshold": round(float(threshold), 6), "coverage": round(float(keep.mean()), 6),
                       "accuracy": round(float(right.mean()), 6)})
    return points


def reject_line(rule: dict[str, Any]) -> str:
    """One line after training: the threshold and what it did out of fold."""
    how = (f"chosen for precision ≥ {rule['target_precision']:.2f} (95% lower bound)" if rule["mode"] == "auto"
           else "set by hand")
    line = (f"reject option: confidence < {rule['threshold']:.4f} → {rule['label']!r} ({how}); out of fold: "
            f"answered {rule['oof_coverage']:.1%} of rows at precision {rule['oof_precision']:.3f}")
    if rule.get("out_of_scope_rows"):
        line += f"; {rule['out_of_scope_caught']:.1%} of the {rule['out_of_scope_rows']} out-of-scope rows rejected"
    return line
