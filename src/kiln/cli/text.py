"""What the CLI says about a text model's reject option (kept out of the hot app.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def reject_line(rule: dict[str, Any]) -> str:
    """One line after training: the threshold and what it did out of fold."""
    how = (f"chosen for precision ≥ {rule['target_precision']:.2f} (95% lower bound)" if rule["mode"] == "auto"
           else "set by hand")
    line = (f"reject option: confidence < {rule['threshold']:.4f} → {rule['label']!r} ({how}); out of fold: "
            f"answered {rule['oof_coverage']:.1%} of rows at precision {rule['oof_precision']:.3f}")
    if rule.get("out_of_scope_rows"):
        line += f"; {rule['out_of_scope_caught']:.1%} of the {rule['out_of_scope_rows']} out-of-scope rows rejected"
    return line


def rejected_line(rule: dict[str, Any], out: Path, rows: int) -> str:
    """One line after predicting: how many rows were rejected."""
    from kiln.data.load import read_table

    predicted = read_table(out)["prediction"].astype(str)
    rejected = int((predicted == rule["label"]).sum())
    share = rejected / rows if rows else 0.0
    return f"reject rate: {rejected:,} of {rows:,} rows ({share:.1%}) answered {rule['label']!r}"
