"""The tabular kind's retrain hook: labelled rows, a usable gate set, and both models' outputs aligned."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kiln.errors import InvalidDataError

if TYPE_CHECKING:
    from kiln.model import Model

MIN_GATE_ROWS = 20
MIN_GATE_CLASS_ROWS = 2  # DeLong's variance needs two rows of each class


class TabularGate:
    """What retrain asks of a tabular champion and challenger (kiln.retrain.kind.Gate)."""

    def labelled(self, frame: pd.DataFrame, champion: Model) -> pd.DataFrame:
        return _labelled(frame, champion)

    def check_gate(self, gate: pd.DataFrame, champion: Model) -> None:
        _check_gate(gate, champion)

    def predictions(self, champion: Model, challenger: Model, rows: pd.DataFrame) -> tuple[np.ndarray, ...]:
        return gate_predictions(champion, challenger, rows)


def gate_predictions(champion: Model, challenger: Model, rows: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """(labels, champion's output, challenger's output) on the same rows, in the champion's class order."""
    y = champion.target.encode(rows[champion.target.name])
    champion_pred = np.asarray(champion.predict_raw(rows), dtype="float64")
    challenger_pred = np.asarray(challenger.predict_raw(rows), dtype="float64")
    if champion.task != "regression":
        column = {str(c): i for i, c in enumerate(challenger.classes_ or [])}
        aligned = np.zeros_like(champion_pred)  # a class the challenger never saw gets probability 0
        for i, label in enumerate(champion.classes_ or []):
            if str(label) in column:
                aligned[:, i] = challenger_pred[:, column[str(label)]]
        challenger_pred = aligned
    return y, champion_pred, challenger_pred


def _labelled(frame: pd.DataFrame, champion: Model) -> pd.DataFrame:
    """The rows with a label, after checking the target exists and holds only the champion's classes."""
    target = champion.target.name
    if target not in frame.columns:
        raise InvalidDataError(f"The new data has no column '{target}', the champion's target; retraining needs "
                               "labelled rows. Add the label column.")
    frame = frame.loc[frame[target].notna()].reset_index(drop=True)
    if champion.task != "regression" and len(frame):
        known = {str(c) for c in champion.classes_ or []}
        unknown = sorted({str(v) for v in frame[target].unique()} - known)
        if unknown:
            raise InvalidDataError(f"Target values {unknown[:5]} are not among the champion's classes "
                                   f"{champion.classes_}; a paired comparison needs the same classes. Train a new "
                                   "model with kiln train --register instead.")
    return frame


def _check_gate(gate: pd.DataFrame, champion: Model) -> None:
    if len(gate) < MIN_GATE_ROWS:
        raise InvalidDataError(f"The gate set holds {len(gate)} labelled rows; the paired test needs at least "
                               f"{MIN_GATE_ROWS}. Give more recent labelled rows or a larger --holdout.")
    if champion.task == "regression":
        return
    counts = gate[champion.target.name].astype(str).value_counts()
    if len(counts) < 2 or (champion.task == "binary" and counts.min() < MIN_GATE_CLASS_ROWS):
        raise InvalidDataError(f"The gate set (the newest {len(gate)} rows) holds classes {counts.to_dict()}; the "
                               f"paired test needs at least {MIN_GATE_CLASS_ROWS} rows of each of two classes. Give "
                               "more recent labelled rows or a larger --holdout.")


GATE = TabularGate()
