"""Enumerated choices, in one place."""

from __future__ import annotations

from typing import Literal

Task = Literal["binary", "multiclass", "regression"]
TaskOption = Literal["auto", "binary", "multiclass", "regression"]
ColumnKind = Literal["numeric", "boolean", "categorical", "datetime", "text"]
PrepFamily = Literal["tree", "linear", "knn"]

TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")
CLASSIFICATION: frozenset[str] = frozenset({"binary", "multiclass"})
