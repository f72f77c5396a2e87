"""Read a table from CSV (delimiter and encoding sniffed), Parquet or JSON Lines.

Everything arrives as a pandas DataFrame; a file kiln cannot read raises
`InvalidDataError` with the reason and the fix, never a parser traceback.
"""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import pandas as pd

from kiln.errors import InvalidDataError

SUFFIXES = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
            ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
_SNIFF_BYTES = 64 * 1024


def read_table(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Return the table at `source` (a path or an already-loaded DataFrame)."""
    if isinstance(source, pd.DataFrame):
        frame = source.copy(deep=False)  # never rename the caller's columns
    else:
        path = Path(source)
        if not path.exists():
            raise InvalidDataError(f"File '{path}' does not exist; check the path.")
        if path.is_dir():
            raise InvalidDataError(f"'{path}' is a folder, not a data file; pass a .csv, .parquet or .jsonl file.")
        kind = SUFFIXES.get(path.suffix.lower())
        if kind is None:
            raise InvalidDataError(
                f"File '{path.name}' has the unsupported suffix '{path.suffix}'; "
                "use .csv, .parquet or .jsonl."
            )
        if path.stat().st_size == 0:
            raise InvalidDataError(f"File '{path}' is empty; it needs a header row and data rows.")
        frame = {"csv": _read_csv, "parquet": _read_parquet, "jsonl": _read_jsonl}[kind](path)
    if frame.shape[1] == 0 or len(frame) == 0:
        raise InvalidDataError("The table has no rows or no columns; check the file.")
    frame.columns = [str(c) for c in frame.columns]
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise InvalidDataError(f"Column names {duplicated} appear more than once; rename them.")
    return frame


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
        return pd.read_csv(path, sep=delimiter, encoding=encoding, low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0]
        raise InvalidDataError(f"Cannot parse CSV '{path.name}': {reason}; check quoting and delimiters.") from exc


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise InvalidDataError(f"Cannot read Parquet '{path.name}': {exc}; check that it is a Parquet file.") from exc


def _read_jsonl(path: Path) -> pd.DataFrame:
    try:
        return pd.read_json(path, lines=path.suffix.lower() != ".json" or _looks_like_lines(path))
    except ValueError as exc:
        raise InvalidDataError(
            f"Cannot read JSON Lines '{path.name}': {exc}; write one JSON object per line."
        ) from exc


def _looks_like_lines(path: Path) -> bool:
    with path.open("rb") as handle:
        first = handle.read(1024).lstrip()
    return first.startswith(b"{")
