"""Rows every model accepts, reaching the corners of its data contract (an export's check rows)."""

from __future__ import annotations

from typing import Any

import numpy as np

from kiln.data.schema import Schema

UNSEEN_CATEGORY = "kiln-unseen-category"
CHECK_TEXTS = ("a short text", "", "several plain words, then a number 42", "x")
CHECK_DATES = ("2024-01-01T00:00", "2019-07-15T13:30", "1999-12-31T23:59", "2024-02-29T06:15")


def synthetic_columns(schema: Schema, n_rows: int = 16) -> dict[str, np.ndarray]:
    """Rows every model accepts, reaching the corners of each column: numbers at and beyond
    the training range, known and unseen categories, short and empty texts, and missing
    values where training had them. Columns cycle independently to mix combinations."""
    columns = {}
    for position, column in enumerate(schema.columns):
        values: list[Any]
        if column.kind == "numeric":
            low = column.minimum if column.minimum is not None else 0.0
            high = column.maximum if column.maximum is not None else 1.0
            span = high - low
            values = [low + share * span for share in (0.5, 0.0, 1.0, 0.25, 0.75, -0.1, 1.1, 0.4)]
            if column.discrete:
                values = [float(round(v)) for v in values]
            missing: Any = np.nan
        elif column.kind == "boolean":
            values, missing = [0.0, 1.0], np.nan
        elif column.kind == "categorical":
            known = list(column.categories or [])
            picks = sorted({0, len(known) // 2, len(known) - 1, 1, len(known) - 2}) if known else []
            values = [known[i] for i in picks if 0 <= i < len(known)] + [UNSEEN_CATEGORY]
            missing = None
        elif column.kind == "datetime":
            values, missing = [np.datetime64(d, "ns") for d in CHECK_DATES], np.datetime64("NaT", "ns")
        else:
            values, missing = list(CHECK_TEXTS), None
        if column.nullable:
            values.append(missing)
        cycle = [values[(row + position) % len(values)] for row in range(n_rows)]
        if column.kind in ("numeric", "boolean"):
            columns[column.name] = np.asarray(cycle, dtype=np.float64)
        elif column.kind == "datetime":
            columns[column.name] = np.asarray(cycle, dtype="datetime64[ns]")
        else:
            array = np.empty(n_rows, dtype=object)
            array[:] = cycle
            columns[column.name] = array
    return columns
