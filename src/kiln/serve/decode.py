"""Request bodies → one numpy array per feature, checked against the bundle's data contract.

No pandas on this path: a single JSON row becomes a handful of small arrays in
microseconds. The rules are the contract's (`kiln.data.contract`), applied per value:

- a required field (never missing in training) that is absent or null → 422;
- a number field holding anything but a JSON number → 422 (NaN/Infinity are not JSON:
  the parser refuses them, and so `1e309`), and so does a number beyond ±3.4e38 (float32,
  what the tree learners compute in; a CSV cell can also spell `inf`);
- booleans take true/false, 0/1 or "true"/"false"/"yes"/"no";
- datetimes take ISO 8601 text;
- unseen categories and numbers outside the training range are accepted and counted.

Every refusal names the field and the row, so a client can fix its request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kiln.data.schema import Column, Schema, category_text

# True == 1 == 1.0 in Python, so these keys also take the numbers 0 and 1.
_BOOLEAN = {True: 1.0, False: 0.0, "true": 1.0, "false": 0.0, "True": 1.0, "False": 0.0,
            "1": 1.0, "0": 0.0, "yes": 1.0, "no": 0.0}


MAX_CATEGORY_CHARS = 10_000  # a longer "category" is an attack or a bug, not a level
MAX_NUMBER = float(np.finfo(np.float32).max)  # tree learners compute in float32; beyond it is infinity


class RequestProblem(Exception):
    """A request kiln refuses: the HTTP status and what to fix, by field and row."""

    def __init__(self, status: int, field: str, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.row = row
        self.message = message

    def body(self) -> dict[str, Any]:
        if self.field in ("body", "rows", "columns", "content-type"):
            location: list[Any] = {"body": ["body"], "rows": ["body", "rows", self.row],
                                   "columns": ["body", "rows", self.row],
                                   "content-type": ["header", "content-type"]}[self.field]
        else:
            location = ["body", "rows", self.row, self.field]
        return {"detail": [{"field": self.field, "row": self.row, "msg": self.message,
                            "loc": [part for part in location if part is not None]}]}


@dataclass
class Decoded:
    """The validated rows: the records as sent (for the log) and one array per feature."""

    records: list[dict[str, Any]]
    columns: dict[str, np.ndarray]
    unseen_categories: dict[str, int] = field(default_factory=dict)
    out_of_range: dict[str, int] = field(default_factory=dict)
    body: bytes | None = None  # the JSON body the records came from, which the prediction log hands on

    @property
    def n_rows(self) -> int:
        return len(self.records)

    def counts(self) -> dict[str, dict[str, int]]:
        return {"unseen_categories": self.unseen_categories, "out_of_range": self.out_of_range}


def records_from_json(body: bytes, *, max_rows: int, max_depth: int = 8,
                      max_columns: int | None = None) -> list[dict[str, Any]]:
    """`{"rows": [..]}`, a list of records, or one record → a list of records."""
    import orjson

    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestProblem(422, "body", f"The body is not valid JSON ({exc}); send "
                             '{"rows": [{"column": value, ...}]} with numbers as JSON numbers.') from None
    if isinstance(payload, dict) and isinstance(payload.get("rows"), list):
        records = payload["rows"]
    elif isinstance(payload, list):
        records = payload
    elif isinstance(payload, dict):
        records = [payload]
    else:
        raise RequestProblem(422, "body", 'The body must be {"rows": [{...}, ...]}, a list of records or one record.')
    checked = _checked_records(records, max_rows, max_columns)
    _check_depth(checked, max_depth)
    return checked


def _check_depth(records: list[dict[str, Any]], max_depth: int) -> None:
    """Refuse nesting deeper than `max_depth` (a body is depth 1, a record 3, its values 4...)."""
    for row, record in enumerate(records):
        for key, value in record.items():
            if isinstance(value, dict | list) and _depth(value, max_depth - 3) > max_depth - 3:
                raise RequestProblem(422, str(key)[:200], f"Row {row} nests JSON deeper than this server's limit of "
                                     f"{max_depth} levels; send flat records of column → value.", row)


def _depth(value: Any, budget: int) -> int:
    """Nesting depth of `value`, counted no further than `budget` + 1."""
    if not isinstance(value, dict | list) or budget < 0:
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(child, budget - 1) for child in children), default=0)


def records_from_csv(body: bytes, *, max_rows: int, max_columns: int = 1_000,
                     max_cells: int = 2_000_000) -> list[dict[str, Any]]:
    """A CSV batch (header row, then rows) → records; empty cells are missing values.

    The size is checked before anything is parsed (a 700,000-column header once took pandas
    minutes and gigabytes): columns from the header line's commas, cells from columns × lines.
    A row with more cells than the header is refused: pandas would read the extra cell as an
    index and shift every value one column, or drop it.
    """
    import csv
    import io

    import pandas as pd

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestProblem(422, "body", f"The body is not UTF-8 ({exc}); send UTF-8 CSV.") from None
    end = text.find("\n")
    header = text[:end] if end >= 0 else text
    width = header.count(",") + 1  # quoted commas overcount, which only makes the check stricter
    if width > max_columns:
        raise RequestProblem(413, "columns", f"The CSV header has {width:,} columns, over this server's limit of "
                             f"{max_columns:,}; send only the model's input columns (and ids).")
    lines = min(text.count("\n") + 1, max_rows + 2)
    if width * lines > max_cells:
        raise RequestProblem(413, "body", f"{lines:,} lines of {width:,} columns exceed this server's limit of "
                             f"{max_cells:,} cells per request; split the batch.")
    names, row = None, -1
    try:
        for cells in csv.reader(io.StringIO(text, newline="")):
            if not cells:  # pandas skips blank lines, so they are not rows
                continue
            if names is None:
                names = cells
                continue
            row += 1
            if row > max_rows:
                break
            if len(cells) > len(names):
                raise RequestProblem(422, "rows", f"Row {row} has {len(cells)} cells but the header names "
                                     f"{len(names)} columns; quote cells that hold a comma, or fix the row.", row)
            nul = next((i for i, cell in enumerate(cells) if "\x00" in cell), None)
            if nul is not None:  # pandas' CSV parser would silently cut the cell at the NUL
                field = names[nul] if nul < len(names) else "rows"
                raise RequestProblem(422, field, f"'{field}' in row {row} holds a NUL character; send text "
                                     "without control characters.", row)
    except csv.Error as exc:
        raise RequestProblem(422, "body", f"The body is not readable CSV ({exc}); send a header row, then one row "
                             "per record, UTF-8, comma-separated.") from None
    try:
        frame = pd.read_csv(io.StringIO(text), nrows=max_rows + 1, index_col=False, dtype_backend="numpy_nullable")
    except (ValueError, pd.errors.ParserError) as exc:
        raise RequestProblem(422, "body", f"The body is not readable CSV ({exc}); send a header row, "
                             "then one row per record, UTF-8, comma-separated.") from None
    frame = _overflowed_numbers(frame)
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return _checked_records(records, max_rows)


def _overflowed_numbers(frame: Any) -> Any:
    """pandas 2 keeps a CSV column as text when one cell overflows a float ("1e309"); read it as numbers, so
    the contract refuses the overflowing cell in its own row instead of calling the first row's number text."""
    import pandas as pd

    for name in frame.columns:
        if frame[name].dtype.kind in "iufb":
            continue
        cells = frame[name].dropna()
        try:
            numbers = [float(cell) for cell in cells]
        except (TypeError, ValueError):
            continue
        if numbers and any(abs(n) == float("inf") for n in numbers):
            frame[name] = np.array([np.nan if pd.isna(cell) else float(cell) for cell in frame[name]])
    return frame


def _checked_records(records: list[Any], max_rows: int, max_columns: int | None = None) -> list[dict[str, Any]]:
    if len(records) > max_rows:
        raise RequestProblem(413, "rows", f"{len(records):,} rows exceed this server's limit of {max_rows:,} "
                             "per request; split the batch or raise --max-rows.")
    if not records:
        raise RequestProblem(422, "rows", "The request holds no rows; send at least one record.")
    for row, record in enumerate(records):
        if not isinstance(record, dict):
            raise RequestProblem(422, "rows", f"Row {row} is a {type(record).__name__}, not an object of "
                                 "column → value.", row)
        if max_columns is not None and len(record) > max_columns:
            raise RequestProblem(413, "columns", f"Row {row} has {len(record):,} fields, over this server's limit "
                                 f"of {max_columns:,}; send only the model's input columns (and ids).", row)
    return records


def decode_records(records: list[dict[str, Any]], schema: Schema) -> Decoded:
    """Check every value against the contract and build the feature arrays."""
    decoded = Decoded(records, {})
    for column in schema.columns:
        values = [record.get(column.name) for record in records]
        decoded.columns[column.name] = _DECODERS[column.kind](values, column, decoded)
    return decoded


def _missing(column: Column, row: int) -> RequestProblem:
    return RequestProblem(422, column.name, f"'{column.name}' is required (it was never missing in training) "
                          f"but row {row} has no value; send it.", row)


def _numeric(values: list[Any], column: Column, decoded: Decoded) -> np.ndarray:
    if not all(type(v) is float or type(v) is int for v in values):
        for row, value in enumerate(values):
            if value is None:
                if column.required:
                    raise _missing(column, row)
            elif type(value) not in (int, float):
                raise RequestProblem(422, column.name, f"'{column.name}' must be a number but row {row} holds "
                                     f"{_shown(value)}; send a JSON number.", row)
        values = [np.nan if v is None else v for v in values]
    try:
        array = np.array(values, dtype=np.float64)
    except OverflowError:
        row = next(i for i, v in enumerate(values) if _overflows(v))
        raise RequestProblem(422, column.name, f"'{column.name}' in row {row} holds an integer too large for a "
                             "64-bit float; send a smaller number.", row) from None
    beyond = np.abs(array) > MAX_NUMBER  # also ±inf, which a CSV cell can spell; NaN (missing) compares False
    if beyond.any():
        row = int(np.argmax(beyond))
        raise RequestProblem(422, column.name, f"'{column.name}' in row {row} holds {array[row]:g}, beyond "
                             f"±{MAX_NUMBER:.4g} (the float32 range the learners compute in); send a finite, "
                             "smaller number.", row)
    if column.minimum is not None and column.maximum is not None:
        outside = int(np.count_nonzero((array < column.minimum) | (array > column.maximum)))
        if outside:
            decoded.out_of_range[column.name] = outside
    return array


def _overflows(value: Any) -> bool:
    try:
        float(value)
    except OverflowError:
        return True
    return False


def _boolean(values: list[Any], column: Column, decoded: Decoded) -> np.ndarray:
    out = np.empty(len(values), dtype=np.float64)
    for row, value in enumerate(values):
        if value is None:
            if column.required:
                raise _missing(column, row)
            out[row] = np.nan
            continue
        try:
            out[row] = _BOOLEAN[value]
        except (KeyError, TypeError):
            raise RequestProblem(422, column.name, f"'{column.name}' must be true or false but row {row} holds "
                                 f"{_shown(value)}.", row) from None
    return out


def _categorical(values: list[Any], column: Column, decoded: Decoded) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    known = column.categories
    unseen = 0
    for row, value in enumerate(values):
        if value is None:
            if column.required:
                raise _missing(column, row)
            out[row] = None
            continue
        if isinstance(value, dict | list):
            raise RequestProblem(422, column.name, f"'{column.name}' must be a single value but row {row} holds "
                                 f"a JSON {type(value).__name__}.", row)
        text = value if type(value) is str else category_text(value)
        if len(text) > MAX_CATEGORY_CHARS or "\x00" in text:
            raise RequestProblem(422, column.name, f"'{column.name}' in row {row} is not a category value "
                                 f"(over {MAX_CATEGORY_CHARS:,} characters or a NUL character); send the category.",
                                 row)
        out[row] = text
        if known is not None and text not in known:
            unseen += 1
    if unseen:
        decoded.unseen_categories[column.name] = unseen
    return out


def _text(values: list[Any], column: Column, decoded: Decoded) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for row, value in enumerate(values):
        if value is None:
            if column.required:
                raise _missing(column, row)
            out[row] = None
        elif isinstance(value, str):
            if "\x00" in value:
                raise RequestProblem(422, column.name, f"'{column.name}' in row {row} holds a NUL character; "
                                     "remove it.", row)
            out[row] = value
        else:
            raise RequestProblem(422, column.name, f"'{column.name}' must be text but row {row} holds "
                                 f"{_shown(value)}.", row)
    return out


def _datetime(values: list[Any], column: Column, decoded: Decoded) -> np.ndarray:
    out = np.empty(len(values), dtype="datetime64[ns]")
    for row, value in enumerate(values):
        if value is None:
            if column.required:
                raise _missing(column, row)
            out[row] = np.datetime64("NaT")
            continue
        try:
            out[row] = _iso_datetime(value)
        except (TypeError, ValueError, OverflowError):
            raise RequestProblem(422, column.name, f"'{column.name}' must be an ISO 8601 date-time "
                                 f"(e.g. 2026-01-31T08:00:00) but row {row} holds {_shown(value)}.", row) from None
    return out


def _iso_datetime(value: Any) -> np.datetime64:
    """ISO 8601 text → naive UTC (an offset is applied; naive text is taken as it is, as training did)."""
    from datetime import datetime, timezone

    if not isinstance(value, str):
        raise TypeError
    stamp = datetime.fromisoformat(value)
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(timezone.utc).replace(tzinfo=None)
    return np.datetime64(stamp, "ns")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_DECODERS = {"numeric": _numeric, "boolean": _boolean, "categorical": _categorical, "text": _text,
             "datetime": _datetime}
