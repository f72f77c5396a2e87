"""Paired tests on the rows evaluated: is the served model better than its best member, and than a trivial guess?

`kiln evaluate` is given new labelled rows, so its tests are computed on them: every model
predicts the same rows, and their errors pair up row by row (`paired.paired_test`: DeLong
for binary AUC, a paired bootstrap otherwise, two-sided at 95%). The served model is the
blend `predict` uses, at its stored threshold for label metrics; its best member is the
member ranked highest by cross-validation (chosen before these rows were seen, so the
comparison is not picked on them), judged at the same threshold; the baseline predicts the
class shares (or the mean) of these rows. The training folds' comparisons stay in
`Evaluation.comparisons`, labelled as coming from training.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kiln.errors import InvalidDataError
from kiln.evaluation.compare import format_p
from kiln.evaluation.paired import paired_test

if TYPE_CHECKING:
    from kiln.model import Model

HOLDOUT_TEST_COLUMNS = ["model", "other", "metric", "model_value", "other_value", "difference", "ci_low", "ci_high",
                        "p_value", "test", "rows", "verdict"]
SERVED = "served model"
BASELINE = "the trivial baseline"


@dataclass(frozen=True)
class HoldoutTest:
    """The served model against one other, paired on the evaluated rows.

    `difference` is how much better the served model scores (> 0: better), in the metric's
    units whatever its direction; `ci_low`/`ci_high` its 95% interval; `p_value` two-sided.
    """

    model: str
    other: str
    metric: str
    model_value: float
    other_value: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str
    rows: int
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def holdout_tests(model: Model, labelled: pd.DataFrame, y: np.ndarray, prediction: np.ndarray, *,
                  threshold: float | None, seed: int = 0) -> list[HoldoutTest]:
    """The served model against its best member (when it blends several) and against the baseline."""
    task, metric = model.task, model.metric
    others: list[tuple[str, np.ndarray, float | None]] = []
    member = best_member(model)
    if member is not None:
        features = model.schema.coerce(labelled)
        others.append((f"its best member {member.name} ({member.learner})",
                       np.asarray(member.predict_raw(features), dtype="float64"), threshold))
    others.append((BASELINE, _baseline(y, prediction, task), None))
    out = []
    for name, other, cut in others:
        try:
            value_a, value_b, difference, low, high, p, test = paired_test(
                y, prediction, other, task=task, metric=metric, thresholds=(threshold, cut), seed=seed)  # type: ignore[arg-type]
        except InvalidDataError:  # e.g. DeLong with fewer than two rows of a class: no test to show
            continue
        out.append(HoldoutTest(SERVED, name, metric, value_a, value_b, difference, low, high, p, test, len(y),
                               _verdict(name, metric, value_a, value_b, difference, low, high, p)))
    return out


def best_member(model: Model) -> Any | None:
    """The member ranked highest by cross-validation, when the served model blends more than one."""
    members = [m for m in model.members if m.weight > 0]
    if len(members) < 2:
        return None
    board = model.leaderboard()
    rank = {str(name): i for i, name in enumerate(board["model"])} if "model" in board.columns else {}
    return min(members, key=lambda m: (rank.get(m.name, len(rank)), -m.weight))


def _baseline(y: np.ndarray, prediction: np.ndarray, task: str) -> np.ndarray:
    if task == "regression":
        return np.full(len(y), float(np.mean(y)))
    shares = np.bincount(np.asarray(y, dtype="int64"), minlength=prediction.shape[1]) / len(y)
    return np.tile(shares, (len(y), 1))


def _verdict(other: str, metric: str, value_a: float, value_b: float, difference: float, low: float, high: float,
             p: float) -> str:
    numbers = (f"{metric} {value_a:.4f} vs {value_b:.4f}, difference {difference:+.4f} (95% CI {low:+.4f} to "
               f"{high:+.4f}, {format_p(p)})" if math.isfinite(p) else f"{metric} {value_a:.4f} vs {value_b:.4f}")
    if not math.isfinite(p):
        return f"The served model and {other} cannot be compared on these rows ({numbers})."
    if p < 0.05:
        side = "better" if difference > 0 else "worse"
        return f"On these rows the served model is {side} than {other}: {numbers}."
    return f"On these rows the served model and {other} cannot be told apart: {numbers}."
