"""Error messages name a row as a person counts it in the file (issue 13, item 19)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from kiln.data.contract import check_contract
from kiln.data.load import read_table
from kiln.data.schema import infer_schema
from kiln.errors import InvalidDataError

GOOD = pd.DataFrame({"torque": [float(i) for i in range(40)], "kind": ["a", "b"] * 20})
BAD = pd.DataFrame({"torque": ["1.5", "abc", "2.5"], "kind": ["a", "b", "a"]})  # the second data row


def _xlsx(path: Path) -> Path:
    book = Workbook()
    for row in [list(BAD.columns), *BAD.itertuples(index=False)]:
        book.active.append(list(row))
    book.save(path)
    return path


@pytest.mark.parametrize(("name", "write", "where"), [
    ("bad.csv", lambda p: BAD.to_csv(p, index=False), "line 3"),  # the header is line 1
    ("bad.jsonl", lambda p: BAD.to_json(p, orient="records", lines=True), "line 2"),  # no header
    ("bad.xlsx", _xlsx, "sheet row 3"),
    ("bad.parquet", lambda p: BAD.to_parquet(p, index=False), r"row 2 \(counting from 1\)"),
])
def test_the_second_data_row_is_named_where_the_file_shows_it(tmp_path: Path, name: str, write, where: str) -> None:
    path = tmp_path / name
    write(path)
    schema = infer_schema(GOOD)

    with pytest.raises(InvalidDataError, match=rf"must be numeric but {where} holds 'abc'"):
        schema.coerce(read_table(path))


def test_a_frame_in_memory_counts_from_one_and_says_so_even_with_other_index_labels() -> None:
    frame = BAD.set_axis([10, 20, 30])
    schema = infer_schema(GOOD)

    with pytest.raises(InvalidDataError, match=r"row 2 \(counting from 1\) holds 'abc'"):
        schema.coerce(frame)
    with pytest.raises(InvalidDataError, match=r"row 2 \(counting from 1\) holds 'abc'"):
        check_contract(frame, schema)
