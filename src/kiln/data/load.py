"""Read a table from CSV (delimiter and encoding sniffed), Parquet, JSON Lines or Excel (.xlsx).

Everything arrives as a pandas DataFrame; a file kiln cannot read raises
`InvalidDataError` with the reason and the fix, never a parser traceback.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
from pathlib import Path

import pandas as pd

from kiln.errors import InvalidDataError

MAX_COLUMNS = 10_000
# A loaded table may use at most this share of the memory available now; beyond it
# kiln refuses with the estimate instead of pushing the machine into swap.
MEMORY_SHARE = 0.5
SUFFIXES = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
            ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".xlsx": "excel", ".xlsm": "excel"}
# Spreadsheet formats openpyxl cannot open: say how to export them instead of "unsupported".
_OLD_SPREADSHEETS = {".xls": "Excel 97-2003", ".ods": "OpenDocument", ".numbers": "Numbers", ".xlsb": "Excel binary"}
_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
_SNIFF_BYTES = 64 * 1024


def read_table(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Return the table at `source` (a path or an already-loaded DataFrame)."""
    if isinstance(source, pd.DataFrame):
        frame = source.copy(deep=False)  # never rename the caller's columns
    else:
        path = Path(source)
        kind = readable_kind(path)
        _refuse_if_too_big(path, kind)
        frame = {"csv": _read_csv, "parquet": _read_parquet, "jsonl": _read_jsonl, "excel": _read_excel}[kind](path)
        _mark_lines(frame, path, kind)
    if frame.shape[1] == 0:
        raise InvalidDataError("The table has no columns; check the file.")
    if len(frame) == 0:
        raise InvalidDataError(f"The table has a header ({frame.shape[1]} columns) but no rows; add data rows.")
    if frame.shape[1] > MAX_COLUMNS:
        raise InvalidDataError(
            f"The table has {frame.shape[1]:,} columns; kiln handles at most {MAX_COLUMNS:,}. "
            "Select or aggregate features first."
        )
    frame.columns = [str(c) for c in frame.columns]
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise InvalidDataError(f"Column names {duplicated} appear more than once; rename them.")
    return frame


def _mark_lines(frame: pd.DataFrame, path: Path, kind: str) -> None:
    """Where the first data row sits, for error messages (kiln.data.rows): under a header, or on line 1."""
    from kiln.data.rows import mark_source

    if kind == "csv":
        mark_source(frame, 2)
    elif kind == "excel":
        mark_source(frame, 2, "sheet row")
    elif kind == "jsonl" and (path.suffix.lower() != ".json" or _looks_like_lines(path)):
        mark_source(frame, 1)


def readable_kind(path: Path) -> str:
    """"csv", "parquet" or "jsonl" for a file kiln can read; a clear error for a missing, empty,
    binary or unsupported one. Shared by `read_table` and the streaming reader."""
    if not path.exists():
        from kiln.data.paths import did_you_mean

        hint = did_you_mean(path, accept=lambda found: found.is_file())
        raise InvalidDataError(f"File '{path}' does not exist; check the path.{hint}")
    if path.is_dir():
        raise InvalidDataError(f"'{path}' is a folder, not a data file; pass a .csv, .parquet or .jsonl file.")
    kind = SUFFIXES.get(path.suffix.lower())
    old = _OLD_SPREADSHEETS.get(path.suffix.lower())
    if old is not None:
        raise InvalidDataError(f"File '{path.name}' is an {old} spreadsheet, which kiln cannot open; in your "
                               "spreadsheet program use File > Save As > Excel Workbook (.xlsx), or CSV UTF-8 "
                               "(comma delimited) (.csv), and pass that file.")
    if kind is None:
        raise InvalidDataError(f"File '{path.name}' has the unsupported suffix '{path.suffix}'; "
                               "use .csv, .parquet, .jsonl or .xlsx.")
    if path.stat().st_size == 0:
        raise InvalidDataError(f"File '{path}' is empty; it needs a header row and data rows.")
    if kind not in ("parquet", "excel"):
        _refuse_binary(path)
    return kind


def _refuse_binary(path: Path) -> None:
    """A text table never holds NUL bytes; images, archives and spreadsheets do."""
    with path.open("rb") as handle:
        head = handle.read(8192)
    if b"\0" in head:
        raise InvalidDataError(
            f"File '{path.name}' is binary, not a text table; export it as CSV (UTF-8), Parquet or JSON Lines."
        )


def available_memory() -> int:
    """Bytes of memory available now (KILN_MEMORY_LIMIT overrides, for tests and containers)."""
    override = os.environ.get("KILN_MEMORY_LIMIT")
    if override:
        return int(float(override))
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def estimate_memory(path: Path, kind: str) -> int:
    """Bytes pandas would need for the whole file, extrapolated from its first rows."""
    size = path.stat().st_size
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(path).metadata
        except Exception:  # not a valid parquet file: the reader reports it properly
            return 0
        if meta.num_row_groups == 0:
            return 0
        return int(sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)) * 2)
    if kind == "excel":  # a zip of XML: cells take roughly 20× the compressed size as a frame
        return size * 20
    if size <= _SNIFF_BYTES * 16:
        return size * 10
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES * 16)
    head = head[: head.rfind(b"\n") + 1]
    try:
        sample = (_read_csv_bytes(head, path) if kind == "csv"
                  else pd.read_json(io.BytesIO(head), lines=True))
    except Exception:  # the full read will report a malformed file properly
        return 0
    per_byte = sample.memory_usage(deep=True).sum() / max(len(head), 1)
    return int(per_byte * size)


def _refuse_if_too_big(path: Path, kind: str) -> None:
    needed, available = estimate_memory(path, kind), available_memory()
    if needed > MEMORY_SHARE * available:
        raise InvalidDataError(
            f"File '{path.name}' ({path.stat().st_size / 1e9:.2f} GB) would need about {needed / 1e9:.1f} GB of "
            f"memory to load, but only {available / 1e9:.1f} GB is available; sample the rows or convert it "
            "to Parquet with fewer columns."
        )


def _read_csv_bytes(head: bytes, path: Path) -> pd.DataFrame:
    encoding, delimiter = _sniff(path)
    return pd.read_csv(io.BytesIO(head), sep=delimiter, encoding=encoding, low_memory=False)


def _sniff(path: Path) -> tuple[str, str]:
    """Find the encoding (the first that decodes the whole file) and the delimiter."""
    encoding = _encoding(path)
    with path.open(encoding=encoding, newline="") as handle:
        text = handle.read(_SNIFF_BYTES)
    lines = text.splitlines()
    sample = "\n".join(lines[:-1] if len(lines) > 1 else lines)  # last line may be cut
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    header = next(csv.reader([lines[0] if lines else ""], delimiter=delimiter), [])
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise InvalidDataError(f"Column names {repeated} appear more than once in '{path.name}'; rename them.")
    return encoding, delimiter


def _encoding(path: Path) -> str:
    """UTF-8 when every byte decodes as UTF-8, else Windows-1252, else Latin-1 (never fails)."""
    for encoding in _ENCODINGS[:-1]:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    decoder.decode(block)
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    return _ENCODINGS[-1]


def _read_csv(path: Path) -> pd.DataFrame:
    encoding, delimiter = _sniff(path)
    try:
        frame = pd.read_csv(path, sep=delimiter, encoding=encoding, low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0]
        raise InvalidDataError(f"Cannot parse CSV '{path.name}': {reason}; check quoting and delimiters.") from exc
    if frame.shape[1] == 1:
        header = str(frame.columns[0])
        found = [d for d in (",", ";", "\t", "|", ":", " ") if d in header.strip()]
        if found:
            raise InvalidDataError(
                f"CSV '{path.name}' was read as a single column {header[:60]!r}; its delimiter may be "
                f"{found[0]!r}. Save it with commas (or ; tab |) between values."
            )
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise InvalidDataError(f"Cannot read Parquet '{path.name}': {exc}; check that it is a Parquet file.") from exc


def _read_jsonl(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_json(path, lines=path.suffix.lower() != ".json" or _looks_like_lines(path))
    except ValueError as exc:
        raise InvalidDataError(
            f"Cannot read JSON Lines '{path.name}': {exc}; write one JSON object per line."
        ) from exc
    for name in frame.columns:  # nested objects and lists become their JSON text: one value per cell
        column = frame[name]
        if column.dtype == object and column.map(lambda v: isinstance(v, dict | list)).any():
            frame[name] = column.map(lambda v: json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v)
    return frame


def _looks_like_lines(path: Path) -> bool:
    with path.open("rb") as handle:
        first = handle.read(1024).lstrip()
    return first.startswith(b"{")


def _read_excel(path: Path) -> pd.DataFrame:
    """The first worksheet, its first row the header (as a spreadsheet user lays a table out)."""
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - a dependency of kiln; a broken install says how to mend it
        raise InvalidDataError(f"Reading '{path.name}' needs openpyxl; pip install openpyxl, or save the sheet "
                               "as CSV.") from None
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile, XML and openpyxl's own errors: all mean "not a readable workbook"
        raise InvalidDataError(f"Cannot read Excel workbook '{path.name}' ({type(exc).__name__}: {exc}); save it "
                               "again as .xlsx, or as CSV UTF-8.") from exc
    try:
        sheets = [sheet.title for sheet in workbook.worksheets]
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        body = list(rows)
    finally:
        workbook.close()
    while body and all(cell is None for cell in body[-1]):  # formatted but empty rows under the table
        body.pop()
    if header is None or all(cell is None for cell in header):
        others = f" (it has {len(sheets)} sheets; kiln reads the first, '{sheets[0]}')" if len(sheets) > 1 else ""
        raise InvalidDataError(f"The first sheet of '{path.name}' is empty{others}; put the table, with a "
                               "header row, on the first sheet.")
    width = max([len(header), *(len(row) for row in body)])
    header = list(header) + [None] * (width - len(header))
    body = [list(row) + [None] * (width - len(row)) for row in body]
    while width and header[width - 1] is None and all(row[width - 1] is None for row in body):
        width -= 1  # formatted but empty columns right of the table
    names = [f"column_{i + 1}" if cell is None else str(cell) for i, cell in enumerate(header[:width])]
    frame = pd.DataFrame([row[:width] for row in body], columns=names)
    return frame.infer_objects()
