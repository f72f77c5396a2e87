"""Name a row in an error message as the person who opens the file counts it.

pandas counts rows from 0; a person counts lines of a text file from 1, with a CSV header as
line 1, and a spreadsheet's rows the same way. `read_table` records, in `frame.attrs`, on which
line (or sheet row) the first data row sits; the messages that name a row ask `row_name`, so
"row 1 holds 'abc'" no longer points at the second data row. A frame built in memory (or read
from Parquet, which has no lines) is counted from 1, and the message says so.
"""

from __future__ import annotations

from typing import Any

FIRST_LINE = "kiln.first_line"  # attrs key: the file's line (or sheet row) of the frame's first row
UNIT = "kiln.row_unit"  # attrs key: "line" (text files) or "sheet row" (spreadsheets)


def mark_source(frame: Any, first_line: int, unit: str = "line") -> Any:
    """Record where `frame`'s rows sit in the file it came from (pandas carries attrs along)."""
    frame.attrs[FIRST_LINE] = first_line
    frame.attrs[UNIT] = unit
    return frame


def row_name(position: int, frame: Any) -> str:
    """"line 3" (a CSV's third line, the header being line 1), "sheet row 3", or "row 2 (counting from 1)"."""
    attrs = getattr(frame, "attrs", {}) or {}
    first = attrs.get(FIRST_LINE)
    if first is None:
        return f"row {int(position) + 1} (counting from 1)"
    return f"{attrs.get(UNIT, 'line')} {int(position) + int(first)}"
