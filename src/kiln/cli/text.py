"""What the CLI says about a text model's reject option (kept out of the hot app.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kiln.evaluation.reject import reject_line

__all__ = ["reject_line", "rejected_line"]


def rejected_line(rule: dict[str, Any], out: Path, rows: int) -> str:
    """One line after predicting: how many rows were rejected."""
    from kiln.data.load import read_table

    predicted = read_table(out)["prediction"].astype(str)
    rejected = int((predicted == rule["label"]).sum())
    share = rejected / rows if rows else 0.0
    return f"reject rate: {rejected:,} of {rows:,} rows ({share:.1%}) answered {rule['label']!r}"
