"""Write a prediction table atomically in the format its suffix names."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pandas as pd

from kiln.errors import InvalidOptionError

WRITERS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as the start of a formula


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula get a leading apostrophe (OWASP's advice
    for CSV injection): a class label like `=HYPERLINK(...)` in a prediction CSV stays text.

    Only text cells change, header cells included; numbers (a negative number starts with '-')
    are left as they are.
    """
    text_columns = [name for name in frame.columns
                    if pd.api.types.is_object_dtype(frame[name]) or pd.api.types.is_string_dtype(frame[name])
                    or isinstance(frame[name].dtype, pd.CategoricalDtype)]
    risky_names = any(isinstance(name, str) and name.startswith(FORMULA_STARTS) for name in frame.columns)
    if not text_columns and not risky_names:
        return frame
    safe = frame.copy(deep=False)
    for name in text_columns:
        column = frame[name].astype(object)
        risky = column.map(lambda cell: isinstance(cell, str) and cell.startswith(FORMULA_STARTS))
        if risky.any():
            safe[name] = column.where(~risky, "'" + column.astype(str))
    if risky_names:
        safe.columns = [f"'{name}" if isinstance(name, str) and name.startswith(FORMULA_STARTS) else name
                        for name in frame.columns]
    return safe


def write_text(text: str, path: Path) -> Path:
    """Write a text file (a report) through a temporary sibling and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        staging.write_text(text, encoding="utf-8")
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    return path


def write_bytes(content: bytes, path: Path) -> Path:
    """Write a binary file (an exported graph) through a temporary sibling and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        staging.write_bytes(content)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    return path


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write to a temporary sibling, then rename: a reader never sees half a file."""
    kind = WRITERS.get(path.suffix.lower())
    if kind is None:
        raise InvalidOptionError(f"--out '{path.name}' must end in .csv, .parquet or .jsonl.")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        if kind == "csv":
            spreadsheet_safe(frame).to_csv(staging, index=False)
        elif kind == "parquet":
            frame.to_parquet(staging, index=False)
        else:
            frame.to_json(staging, orient="records", lines=True)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    return path
