"""Where is the model worse? Its metric per level of each categorical feature.

A model can be good on average and poor for one product type or one region. Each of a
column's most frequent levels gets the metric with a bootstrap interval; a level is
flagged `worse` when its whole interval lies on the bad side of the overall score, so
small slices with wide intervals are not flagged for noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kiln.data.schema import category_text
from kiln.errors import InvalidDataError
from kiln.evaluation.scores import greater_is_better, metric_interval
from kiln.types import Task

MISSING_LEVEL = "(missing)"
SLICE_COLUMNS = ["column", "level", "rows", "score", "ci_low", "ci_high", "overall", "worse"]


def slice_scores(frame: pd.DataFrame, y_true: np.ndarray, prediction: np.ndarray, task: Task, metric_name: str,
                 columns: list[str], *, top_levels: int = 8, min_rows: int = 30, n_boot: int = 300, seed: int = 0,
                 threshold: float | None = None) -> pd.DataFrame:
    """One row per (column, level) with at least `min_rows` rows, the `top_levels` most frequent first.

    `metric_name` is a kiln metric or a `score_table` name; `threshold` sets the labels
    of label metrics for binary tasks (default 0.5).
    """
    y = np.asarray(y_true)
    pred = np.asarray(prediction)
    if len(frame) != len(y) or len(pred) != len(y):
        raise InvalidDataError(
            f"The frame has {len(frame)} rows, y_true {len(y)} and the prediction {len(pred)}; they must match."
        )
    overall = metric_interval(y, pred, task, metric_name, threshold=threshold, n_boot=0)[0]
    higher = greater_is_better("macro_f1" if metric_name == "f1" else metric_name)
    rows = []
    for column in columns:
        if column not in frame.columns:
            continue
        levels = _levels(frame[column])
        counts = levels.value_counts()
        for level, count in counts.head(top_levels).items():
            if count < min_rows:
                continue
            mask = (levels == level).to_numpy()
            score, low, high = metric_interval(y[mask], pred[mask], task, metric_name, threshold=threshold,
                                               n_boot=n_boot, seed=seed)
            worse = bool(high < overall) if higher else bool(low > overall)
            rows.append({"column": column, "level": str(level), "rows": int(count), "score": score,
                         "ci_low": low, "ci_high": high, "overall": overall, "worse": worse})
    return pd.DataFrame(rows, columns=SLICE_COLUMNS)


def _levels(values: pd.Series) -> pd.Series:
    present = values.notna()
    text = pd.Series(MISSING_LEVEL, index=values.index, dtype=object)
    kept = values[present]
    text[present] = kept.map({value: category_text(value) for value in kept.unique()})
    return text
