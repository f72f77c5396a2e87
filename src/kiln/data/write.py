"""Write a prediction table atomically in the format its suffix names."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pandas as pd

from kiln.errors import InvalidOptionError

WRITERS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl"}


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


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write to a temporary sibling, then rename: a reader never sees half a file."""
    kind = WRITERS.get(path.suffix.lower())
    if kind is None:
        raise InvalidOptionError(f"--out '{path.name}' must end in .csv, .parquet or .jsonl.")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        if kind == "csv":
            frame.to_csv(staging, index=False)
        elif kind == "parquet":
            frame.to_parquet(staging, index=False)
        else:
            frame.to_json(staging, orient="records", lines=True)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    return path
