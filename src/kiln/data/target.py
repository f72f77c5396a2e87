"""Decide the task from the target column and encode its labels."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kiln.errors import InvalidDataError, InvalidOptionError
from kiln.types import Task, TaskOption

MULTICLASS_MAX_INTEGER_LEVELS = 20
MULTICLASS_MAX_LEVEL_SHARE = 0.05


@dataclass(frozen=True)
class Target:
    """The task and, for classification, the classes in the order of probability columns."""

    name: str
    task: Task
    classes: list | None  # JSON-friendly values as they appear in the data

    def encode(self, values: pd.Series) -> np.ndarray:
        """Labels → integer codes (classification) or floats (regression)."""
        if self.task == "regression":
            return pd.to_numeric(values, errors="raise").to_numpy(dtype="float64")
        lookup = {str(c): i for i, c in enumerate(self.classes or [])}
        codes = values.astype(str).map(lookup)
        if codes.isna().any():
            unknown = sorted(values[codes.isna()].astype(str).unique().tolist())[:5]
            raise InvalidDataError(f"Target values {unknown} are not among the model's classes {self.classes}.")
        return codes.to_numpy(dtype="int64")

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Integer codes → the original class values."""
        return np.asarray(self.classes, dtype=object)[codes]


def infer_target(frame: pd.DataFrame, name: str, task: TaskOption = "auto") -> Target:
    """Check the target column and decide the task (unless given)."""
    if name not in frame.columns:
        lowered = {c.lower(): c for c in frame.columns}
        close = [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)]
        hint = (f" Did you mean {' or '.join(repr(c) for c in close)}?" if close
                else f" Columns are: {list(frame.columns)[:20]}.")
        raise InvalidDataError(f"Target column '{name}' is not in the table.{hint}")
    values = frame[name].dropna()
    if values.empty:
        raise InvalidDataError(f"Target column '{name}' has no values; choose a labelled column.")
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    n_unique = values.nunique()
    if task == "auto":
        task = _guess_task(values, numeric, n_unique)
    if task == "regression":
        if not numeric:
            raise InvalidOptionError(
                f"Target '{name}' is not numeric (e.g. {_plain(values.iloc[0])!r}); regression needs numbers. "
                "Use --task binary or multiclass."
            )
        if n_unique < 2:
            raise InvalidDataError(
                f"Target '{name}' has a single value ({_plain(values.iloc[0])!r}); nothing to learn."
            )
        return Target(name, "regression", None)
    if n_unique < 2:
        raise InvalidDataError(
            f"Column '{name}' has a single value ({_plain(values.iloc[0])!r}) in {len(values):,} rows; a classifier "
            "needs at least two classes. Check the --target column or the file."
        )
    if task == "binary" and n_unique != 2:
        raise InvalidOptionError(
            f"Target '{name}' has {n_unique} classes, so it is not binary; use --task multiclass."
        )
    classes = sorted(values.unique().tolist(), key=_class_sort_key)
    if len({str(c) for c in classes}) != len(classes):
        raise InvalidDataError(f"Target '{name}' has classes that print the same: {classes[:10]}.")
    return Target(name, task if task != "auto" else "multiclass", [_plain(c) for c in classes])


def _guess_task(values: pd.Series, numeric: bool, n_unique: int) -> Task:
    if n_unique == 2:
        return "binary"
    if not numeric:
        return "multiclass"
    integral = bool((values.astype("float64") % 1 == 0).all())
    few_levels = n_unique <= MULTICLASS_MAX_INTEGER_LEVELS and n_unique / len(values) <= MULTICLASS_MAX_LEVEL_SHARE
    return "multiclass" if integral and few_levels else "regression"


def _class_sort_key(value: object) -> tuple:
    return (0, value, "") if isinstance(value, int | float | np.number) else (1, 0, str(value))


def _plain(value: object) -> object:
    """numpy scalars → Python scalars, so classes survive JSON."""
    return value.item() if isinstance(value, np.generic) else value
