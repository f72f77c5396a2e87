"""Batch prediction of a file larger than memory: read a chunk, predict it, append it.

`kiln predict` always goes through here. A file is read in chunks (Parquet by record
batch, CSV and JSON Lines by row count), each chunk is checked against the data
contract and predicted by `Model.predictions_frame`, and the predictions are appended
to a temporary sibling of the output that is renamed at the end: a killed run leaves no
half file. Peak memory follows the chunk size, not the file size; a file that fits in
one chunk takes exactly the in-memory path.

There is no size threshold deciding when to stream: a chunk costs a fixed contract check
and thread start-up, so chunks are large (up to MAX_CHUNK_BYTES) and a file that fits in
one takes the in-memory path. benchmarks/predict_stream.py measures streaming against
loading the file whole (time and peak memory; RESULTS.md, "Streaming batch prediction").
Only a `.json` array, which cannot be read in parts, is loaded whole.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from kiln.data.contract import ContractReport, check_contract
from kiln.data.load import MEMORY_SHARE, available_memory, read_table
from kiln.data.write import WRITERS, spreadsheet_safe, write_table
from kiln.errors import InvalidDataError, InvalidOptionError
from kiln.model import Model

# Predicting a chunk holds about 4.5× the chunk's pandas size at its peak (the coerced
# copy, each preprocessing output, pandera's validation frames; measured on AI4I: 32 MiB
# chunks, +142 MiB); 8 leaves room for wider ensembles.
CHUNK_MEMORY_FACTOR = 8
# Beyond ~32 MB of input per chunk (≈ 400k AI4I rows) larger chunks are no faster.
MAX_CHUNK_BYTES = 32 * 1024 * 1024
MIN_CHUNK_ROWS = 1_000
SAMPLE_ROWS = 1_000
TAIL_BYTES = 64 * 1024  # read from the end of a one-column CSV to count the empty lines that end it
_ROW = re.compile(r"\b(line|row) (\d+)\b")  # as kiln.data.rows names a row


@dataclass
class StreamResult:
    """What one streamed prediction did."""

    rows: int
    chunks: int
    chunk_rows: int
    report: ContractReport


def predict_file(model: Model, source: str | Path, out: Path, *, chunk_rows: int | None = None) -> StreamResult:
    """Predict every row of `source` into `out` (.csv, .parquet or .jsonl), chunk by chunk.

    Output columns and row order are those of `Model.predictions_frame` on the whole
    file. `chunk_rows` (default: from the memory available, see `choose_chunk_rows`)
    bounds the rows held at once. A contract violation names its row in the whole file.
    """
    kind = _output_kind(out)
    path = Path(source)
    reading = _input_kind(path)
    if reading is None:  # a JSON array: one document, read whole
        frame = model.predictions_frame(read_table(path))
        write_table(frame, out)
        report = model.last_contract_report_ or ContractReport(rows=len(frame))
        return StreamResult(len(frame), 1, len(frame), report)
    rows_per_chunk = chunk_rows or choose_chunk_rows(path, reading)
    if rows_per_chunk < 1:
        raise InvalidOptionError(f"chunk_rows must be at least 1, got {rows_per_chunk}.")
    reports: list[ContractReport] = []
    offset = 0
    with _Appender(out, kind) as appender:
        for chunk in iter_chunks(path, reading, rows_per_chunk):
            if len(chunk) == 0:
                continue
            appender.append(_predict_chunk(model, chunk, offset))
            reports.append(model.last_contract_report_ or ContractReport(rows=len(chunk)))
            offset += len(chunk)
            del chunk  # before the next one is read
            # pandas keeps strings in Arrow memory; Arrow's allocator (mimalloc) holds freed
            # pages for reuse, which grew the plateau by ~35 MB over 80 chunks. Returning
            # them each chunk costs ~1 ms.
            pa.default_memory_pool().release_unused()
        if offset == 0:
            raise InvalidDataError(f"File '{path.name}' has a header but no rows; add data rows.")
        appender.commit()
    report = merge_reports(reports)
    model.last_contract_report_ = report
    return StreamResult(offset, len(reports), rows_per_chunk, report)


def _predict_chunk(model: Model, chunk: pd.DataFrame, offset: int) -> pd.DataFrame:
    with _rows_from(offset):
        return model.predictions_frame(read_table(chunk))


@contextmanager
def _rows_from(offset: int) -> Iterator[None]:
    """An InvalidDataError's chunk-relative "row N" becomes the row's place in the file."""
    try:
        yield
    except InvalidDataError as exc:
        if offset == 0:
            raise
        message = _ROW.sub(lambda m: f"{m.group(1)} {int(m.group(2)) + offset}", str(exc), count=1)
        raise InvalidDataError(message) from None


def check_file(model: Model, source: str | Path, *, chunk_rows: int | None = None) -> ContractReport:
    """Check every row of `source` against the model's data contract, chunk by chunk, without
    predicting: raises the first violation with its row in the whole file, else returns the report.

    `kiln predict --ray` runs it after a failed run to name the row (a Ray batch does not
    know where in the file it starts).
    """
    path = Path(source)
    kind = _input_kind(path)
    if kind is None:
        return model.check(path)
    reports, offset = [], 0
    for chunk in iter_chunks(path, kind, chunk_rows or choose_chunk_rows(path, kind)):
        with _rows_from(offset):
            frame = read_table(chunk)
            reports.append(check_contract(frame, model.schema))
            model.schema.coerce(frame)
        offset += len(chunk)
    return merge_reports(reports)


def merge_reports(reports: list[ContractReport]) -> ContractReport:
    """One contract report for the whole file from those of its chunks."""
    merged = ContractReport(rows=sum(r.rows for r in reports))
    for report in reports:
        for column, count in report.unseen_categories.items():
            merged.unseen_categories[column] = merged.unseen_categories.get(column, 0) + count
        for column, count in report.out_of_range.items():
            merged.out_of_range[column] = merged.out_of_range.get(column, 0) + count
        merged.imputed_columns += [c for c in report.imputed_columns if c not in merged.imputed_columns]
    return merged


# -- reading -----------------------------------------------------------------------------


def _input_kind(path: Path) -> str | None:
    """"parquet", "csv" or "jsonl" when `path` can be read in chunks; None for a JSON array or a workbook.

    Raises the same errors as `read_table` for a file that is missing, empty or unsupported.
    """
    from kiln.data.load import readable_kind

    kind = readable_kind(path)
    if kind == "excel" or (kind == "jsonl" and path.suffix.lower() == ".json"):  # read whole
        return None
    return kind


def choose_chunk_rows(path: Path, kind: str) -> int:
    """Rows per chunk: the rows whose pandas size × CHUNK_MEMORY_FACTOR fits in
    MEMORY_SHARE of the memory available (KILN_MEMORY_LIMIT overrides), at most
    MAX_CHUNK_BYTES of input, at least MIN_CHUNK_ROWS."""
    budget = min(MAX_CHUNK_BYTES, MEMORY_SHARE * available_memory() / CHUNK_MEMORY_FACTOR)
    return max(MIN_CHUNK_ROWS, int(budget / max(bytes_per_row(path, kind), 1.0)))


def bytes_per_row(path: Path, kind: str) -> float:
    """The pandas size of one row, from the first SAMPLE_ROWS rows."""
    sample = next(iter_chunks(path, kind, SAMPLE_ROWS), None)
    if sample is None or len(sample) == 0:
        return 1.0
    return float(sample.memory_usage(deep=True, index=False).sum()) / len(sample)


def iter_chunks(path: Path, kind: str, rows: int) -> Iterator[pd.DataFrame]:
    """The rows of `path` in order, `rows` at a time, as `read_table` would type them (and mark them:
    a chunk's first row sits on the file's line 2 (CSV) or 1 (JSON Lines), shifted by `_rows_from`)."""
    from kiln.data.rows import mark_source

    if kind == "parquet":
        yield from _parquet_chunks(path, rows)
    elif kind == "csv":
        yield from (mark_source(chunk, 2) for chunk in _csv_chunks(path, rows))
    else:
        yield from (mark_source(chunk, 1) for chunk in _jsonl_chunks(path, rows))


def _parquet_chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise InvalidDataError(f"Cannot read Parquet '{path.name}': {exc}; check that it is a Parquet file.") \
            from exc
    with parquet:
        for batch in parquet.iter_batches(batch_size=rows):
            yield batch.to_pandas()


def _csv_chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    """The CSV's rows. In a one-column file (a text model's messages) every line is a value: a
    whitespace-only line is a message and an empty one a missing value, not lines to skip as
    pandas does (which lost the row and shifted every later line's number); only the empty lines
    that end the file are no rows."""
    from kiln.data.load import _sniff

    encoding, delimiter = _sniff(path)
    try:
        one = len(pd.read_csv(path, sep=delimiter, encoding=encoding, nrows=0).columns) == 1
        trailing = _trailing_empty_lines(path, encoding) if one else 0
        with pd.read_csv(path, sep=delimiter, encoding=encoding, chunksize=rows, low_memory=False,
                         skip_blank_lines=not one) as reader:
            held = None  # with empty lines at the end, the last chunk is held back to cut them off
            for i, chunk in enumerate(reader):
                if i == 0:
                    _refuse_one_column(chunk, path)
                if not trailing:
                    yield chunk
                    continue
                if held is not None:
                    yield held
                held = chunk
            if held is not None and len(held) > trailing:
                yield held.iloc[: len(held) - trailing]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0]
        raise InvalidDataError(f"Cannot parse CSV '{path.name}': {reason}; check quoting and delimiters.") from exc


def _trailing_empty_lines(path: Path, encoding: str) -> int:
    """How many empty lines end the file (after its last line with any character)."""
    with path.open("rb") as handle:
        handle.seek(max(path.stat().st_size - TAIL_BYTES, 0))
        tail = handle.read().decode(encoding, errors="replace")
    lines = tail.splitlines()
    count = 0
    while count < len(lines) - 1 and lines[len(lines) - 1 - count] == "":
        count += 1
    return count


def _refuse_one_column(frame: pd.DataFrame, path: Path) -> None:
    """As `read_table`: one column whose name holds a delimiter is a misread file."""
    if frame.shape[1] != 1:
        return
    header = str(frame.columns[0])
    found = [d for d in (",", ";", "\t", "|", ":", " ") if d in header.strip()]
    if found:
        raise InvalidDataError(f"CSV '{path.name}' was read as a single column {header[:60]!r}; its delimiter may be "
                               f"{found[0]!r}. Save it with commas (or ; tab |) between values.")


def _jsonl_chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    import json

    try:
        with pd.read_json(path, lines=True, chunksize=rows) as reader:
            for chunk in reader:
                for name in chunk.columns:  # nested values become their JSON text, as in read_table
                    column = chunk[name]
                    if column.dtype == object and column.map(lambda v: isinstance(v, dict | list)).any():
                        chunk[name] = column.map(
                            lambda v: json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v)
                yield chunk
    except ValueError as exc:
        raise InvalidDataError(f"Cannot read JSON Lines '{path.name}': {exc}; write one JSON object per line.") \
            from exc


# -- writing -----------------------------------------------------------------------------


def _output_kind(out: Path) -> str:
    kind = WRITERS.get(out.suffix.lower())
    if kind is None:
        raise InvalidOptionError(f"--out '{out.name}' must end in .csv, .parquet or .jsonl.")
    return kind


class _Appender:
    """Appends prediction chunks to a temporary sibling of `path`; `commit` renames it into place.

    Leaving the `with` block without `commit` (an error, Ctrl-C) deletes the temporary file.
    """

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind
        path.parent.mkdir(parents=True, exist_ok=True)
        self.staging = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
        self._parquet: Any = None
        self._schema: Any = None
        self._text: Any = None

    def __enter__(self) -> _Appender:
        if self.kind != "parquet":
            self._text = self.staging.open("w", encoding="utf-8", newline="")
        return self

    def append(self, frame: pd.DataFrame) -> None:
        if self.kind == "parquet":
            self._append_parquet(frame)
        elif self.kind == "csv":
            spreadsheet_safe(frame).to_csv(self._text, index=False, header=self._text.tell() == 0)
        else:
            text = frame.to_json(orient="records", lines=True)
            self._text.write(text if text.endswith("\n") else text + "\n")

    def _append_parquet(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._parquet is None:
            self._schema = table.schema
            self._parquet = pq.ParquetWriter(self.staging, self._schema)
        else:  # a chunk can infer a narrower type (say all-null); the file keeps the first chunk's
            table = table.cast(self._schema)
        self._parquet.write_table(table)

    def commit(self) -> None:
        self._close()
        os.replace(self.staging, self.path)

    def _close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        if self._text is not None and not self._text.closed:
            self._text.close()

    def __exit__(self, *exc: object) -> None:
        self._close()
        self.staging.unlink(missing_ok=True)
