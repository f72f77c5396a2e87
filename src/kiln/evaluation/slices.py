"""Where is the model worse? Its metric per level of each categorical feature.

A model can be good on average and poor for one product type or one region. Each of a
column's most frequent levels gets the metric with a 95% bootstrap interval and a test
of "this slice scores as the whole does": z = (slice − overall) / the slice's bootstrap
standard error, two-sided normal p. A wide table tests dozens of slices, and at 95% each
one would be flagged by chance once in twenty; so the p-values of all slices tested are
corrected together by Benjamini–Hochberg (`p_adjusted`, scipy's false_discovery_control),
and a slice is flagged `worse` when its corrected p is below 0.05 and it lies on the bad
side. The interval shown is the slice's own, uncorrected.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from kiln.data.schema import category_text
from kiln.errors import InvalidDataError
from kiln.evaluation.scores import _percentiles, greater_is_better, metric_bootstrap, metric_interval
from kiln.types import Task

MISSING_LEVEL = "(missing)"
SLICE_COLUMNS = ["column", "level", "rows", "score", "ci_low", "ci_high", "overall", "p_value", "p_adjusted",
                 "worse"]
FLAG_LEVEL = 0.05  # the false discovery rate among flagged slices


def slice_scores(frame: pd.DataFrame, y_true: np.ndarray, prediction: np.ndarray, task: Task, metric_name: str,
                 columns: list[str], *, top_levels: int = 8, min_rows: int = 30, n_boot: int = 300, seed: int = 0,
                 threshold: float | None = None) -> pd.DataFrame:
    """One row per (column, level) with at least `min_rows` rows, the `top_levels` most frequent first.

    `metric_name` is a kiln metric or a `score_table` name; `threshold` sets the labels
    of label metrics for binary tasks (default 0.5). `p_value` tests the slice against the
    overall score; `p_adjusted` is it corrected (Benjamini–Hochberg) for every slice tested.
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
            score, samples = metric_bootstrap(y[mask], pred[mask], task, metric_name, threshold=threshold,
                                              n_boot=n_boot, seed=seed)
            low, high = _percentiles(samples)
            rows.append({"column": column, "level": str(level), "rows": int(count), "score": score,
                         "ci_low": low, "ci_high": high, "overall": overall,
                         "p_value": _p_value(score, samples, overall)})
    frame = pd.DataFrame(rows, columns=SLICE_COLUMNS)
    frame["p_adjusted"] = adjust(frame["p_value"].to_numpy(dtype="float64"))
    bad_side = frame["score"] < frame["overall"] if higher else frame["score"] > frame["overall"]
    frame["worse"] = (frame["p_adjusted"] < FLAG_LEVEL) & bad_side
    return frame


def adjust(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values over the finite ones (NaN stays NaN: no test was possible)."""
    out = np.full(len(p_values), np.nan)
    finite = np.isfinite(p_values)
    if finite.any():
        out[finite] = stats.false_discovery_control(p_values[finite], method="bh")
    return out


def _p_value(score: float, samples: np.ndarray, overall: float) -> float:
    """Two-sided normal p of 'the slice scores as the whole does', from its bootstrap standard error."""
    finite = samples[np.isfinite(samples)]
    if len(finite) < max(10, 0.5 * len(samples)) or not math.isfinite(score):
        return math.nan
    se = float(finite.std(ddof=1))
    if se == 0.0:
        return 1.0 if score == overall else 0.0
    return float(2 * stats.norm.sf(abs(score - overall) / se))


def _levels(values: pd.Series) -> pd.Series:
    present = values.notna()
    text = pd.Series(MISSING_LEVEL, index=values.index, dtype=object)
    kept = values[present]
    text[present] = kept.map({value: category_text(value) for value in kept.unique()})
    return text
