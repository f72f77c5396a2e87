"""An evaluation: the objects a report renders and the Python API returns.

`evaluate_model` scores a model on new labelled rows; `oof_evaluation` builds the same
object from the out-of-fold predictions kept in the bundle (what the training report
shows: numbers on rows each fold model did not see).

Where each figure comes from: `scores`, `tests`, `slices` and `importance` are computed on
the rows evaluated; `comparisons` are the training folds' tests between candidates (from
cross-validation, whatever rows are evaluated), and are labelled so wherever they are shown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kiln.data.load import read_table
from kiln.errors import InvalidOptionError
from kiln.evaluation.compare import Comparison, compare_to_best, why_not_compared
from kiln.evaluation.explain import IMPORTANCE_COLUMNS, labelled_rows, permutation_importance
from kiln.evaluation.holdout_compare import HOLDOUT_TEST_COLUMNS, HoldoutTest, holdout_tests
from kiln.evaluation.metrics import get_metric
from kiln.evaluation.scores import Score, score_table
from kiln.evaluation.slices import SLICE_COLUMNS, slice_scores
from kiln.evaluation.text import TextEvaluation, text_evaluation
from kiln.evaluation.threshold import ThresholdChoice, threshold_at

if TYPE_CHECKING:
    from kiln.model import Model

SCORE_COLUMNS = ["metric", "value", "ci_low", "ci_high", "baseline"]
COMPARISON_COLUMNS = ["model", "best", "mean_difference", "p_value", "test", "verdict"]
DEFAULT_THRESHOLD = 0.5


@dataclass
class Evaluation:
    """Scores with intervals, the decision threshold, slices, importance and model comparisons.

    `tests` are paired tests on the evaluated rows (the served model against its best member
    and the baseline); `comparisons` come from training (the cross-validation folds).
    """

    task: str
    metric: str
    classes: list | None
    y_true: np.ndarray  # class codes or values
    prediction: np.ndarray  # probability matrix or values
    scores: list[Score]
    threshold: ThresholdChoice | None  # binary: the threshold in use, measured on these rows
    slices: pd.DataFrame
    importance: pd.DataFrame
    comparisons: list[Comparison]  # from training: paired over the cross-validation folds
    tests: list[HoldoutTest] = field(default_factory=list)  # on the evaluated rows
    not_compared: str = ""  # why `comparisons` is empty, when it is (from the leaderboard's counts)
    text: TextEvaluation | None = None  # a classifier reading a text column: evaluation/text.py

    def frame(self) -> pd.DataFrame:
        """Every metric with its 95% bootstrap interval and the trivial baseline."""
        return pd.DataFrame([{c: getattr(s, c) for c in SCORE_COLUMNS} for s in self.scores], columns=SCORE_COLUMNS)

    def slices_frame(self) -> pd.DataFrame:
        return self.slices.copy()

    def importance_frame(self) -> pd.DataFrame:
        return self.importance.copy()

    def comparisons_frame(self) -> pd.DataFrame:
        """The training folds' comparisons of candidates (from cross-validation, not the evaluated rows)."""
        return pd.DataFrame([asdict(c) for c in self.comparisons], columns=COMPARISON_COLUMNS)

    def tests_frame(self) -> pd.DataFrame:
        """Paired tests on the evaluated rows: the served model against its best member and the baseline."""
        return pd.DataFrame([t.to_dict() for t in self.tests], columns=HOLDOUT_TEST_COLUMNS)

    def __repr__(self) -> str:
        main = next((s for s in self.scores if s.metric == self.metric), None)
        shown = f"{main.value:.4f} [{main.ci_low:.4f}, {main.ci_high:.4f}]" if main else "n/a"
        return f"<kiln.Evaluation {self.task} rows={len(self.y_true)} {self.metric}={shown}>"


def evaluate_model(model: Model, frame: pd.DataFrame | str | Path, *, threshold: float | None = None,
                   seed: int = 0) -> Evaluation:
    """Score `model` on labelled rows: every metric with intervals, slices, importance, comparisons.

    For a binary model the labels come from `threshold`, else the threshold stored in
    the bundle, else 0.5. Rows whose target is missing are dropped.
    """
    decision = _decision(model, threshold)
    labelled, y = labelled_rows(model, read_table(frame))
    prediction = np.asarray(model.predict_raw(labelled))
    cut = decision["threshold"] if model.task == "binary" else None
    scores = score_table(y, prediction, model.task, threshold=cut, seed=seed)
    slices = slice_scores(labelled, y, prediction, model.task, model.metric, model.schema.of_kind("categorical"),
                          seed=seed, threshold=cut)
    importance = permutation_importance(model, labelled, seed=seed)
    tests = holdout_tests(model, labelled, y, prediction, threshold=cut, seed=seed) if _both_classes(model, y) else []
    comparisons = _comparisons(model)
    return Evaluation(model.task, model.metric, model.classes_, y, prediction, scores,
                      _threshold_choice(model.task, y, prediction, decision), slices, importance,
                      comparisons, tests, _not_compared(model, comparisons),
                      text_evaluation(model, labelled, y, prediction))


def oof_evaluation(model: Model, *, seed: int = 0) -> Evaluation:
    """The same evaluation from the bundle's out-of-fold predictions (no slices or importance)."""
    oof = model.oof
    if oof is None or oof.empty:
        raise InvalidOptionError(
            "This model keeps no out-of-fold predictions (oof.parquet), so its cross-validated "
            "evaluation cannot be rebuilt; evaluate it on labelled data with kiln.evaluate(model, df)."
        )
    if model.task == "regression":
        y = oof["target"].to_numpy(dtype="float64")
        prediction = oof["final__prediction"].to_numpy(dtype="float64")
    else:
        y = model.target.encode(oof["target"])
        columns = [f"final__proba_{label}" for label in model.classes_ or []]
        missing = [c for c in columns if c not in oof.columns]
        if missing:
            raise InvalidOptionError(f"The out-of-fold predictions lack the column(s) {missing}.")
        prediction = oof[columns].to_numpy(dtype="float64")
    decision = _decision(model, None)
    cut = decision["threshold"] if model.task == "binary" else None
    scores = score_table(y, prediction, model.task, threshold=cut, seed=seed)
    comparisons = _comparisons(model)
    return Evaluation(model.task, model.metric, model.classes_, y, prediction, scores,
                      _threshold_choice(model.task, y, prediction, decision),
                      pd.DataFrame(columns=SLICE_COLUMNS), pd.DataFrame(columns=IMPORTANCE_COLUMNS),
                      comparisons, not_compared=_not_compared(model, comparisons))


def _decision(model: Model, threshold: float | None) -> dict:
    """The threshold in use and the objective it was chosen for (from the bundle's `decision`)."""
    stored = dict(model.manifest.get("decision") or {})
    if threshold is not None:
        if not 0.0 <= float(threshold) <= 1.0:
            raise InvalidOptionError(f"--threshold must be a probability between 0 and 1; got {threshold}.")
        stored["threshold"] = float(threshold)
    stored.setdefault("threshold", DEFAULT_THRESHOLD)
    stored.setdefault("objective", "f1")
    stored.setdefault("cost_fp", 1.0)
    stored.setdefault("cost_fn", 1.0)
    return stored


def _threshold_choice(task: str, y: np.ndarray, prediction: np.ndarray, decision: dict) -> ThresholdChoice | None:
    if task != "binary" or len(np.unique(y)) < 2:
        return None
    return threshold_at(y, prediction[:, 1], float(decision["threshold"]), objective=decision["objective"],
                        cost_fp=float(decision["cost_fp"]), cost_fn=float(decision["cost_fn"]))


def _both_classes(model: Model, y: np.ndarray) -> bool:
    """A paired test of classifiers needs at least two classes among the rows."""
    return model.task == "regression" or len(np.unique(y)) > 1


def _comparisons(model: Model) -> list[Comparison]:
    board = model.leaderboard()
    if board is None or board.empty or "fold_scores" not in board.columns:
        return []
    return compare_to_best(board, greater_is_better=get_metric(model.metric, model.task).greater_is_better)


def _not_compared(model: Model, comparisons: list[Comparison]) -> str:
    return "" if comparisons else why_not_compared(model.leaderboard())
