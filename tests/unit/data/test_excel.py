"""Excel workbooks are read, not refused (issue 13, item 18); older spreadsheet formats say how to export."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from kiln.data.load import read_table
from kiln.errors import InvalidDataError


def _workbook(path: Path, rows: list[list[object]], *, second_sheet: bool = False) -> Path:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    if second_sheet:
        book.create_sheet("notes").append(["ignored"])
    book.save(path)
    return path


def test_the_first_sheet_is_read_with_its_header_types_and_no_trailing_blanks(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "machines.xlsx", [
        ["Type", "Torque [Nm]", "when", "Machine failure"],
        ["L", 40.5, dt.datetime(2026, 1, 31, 8), 0],
        ["M", None, dt.datetime(2026, 2, 1, 9), 1],
        [None, None, None, None],  # formatted, empty rows under the table are not data
    ], second_sheet=True)

    frame = read_table(path)

    assert list(frame.columns) == ["Type", "Torque [Nm]", "when", "Machine failure"]
    assert frame["Type"].tolist() == ["L", "M"]
    assert pd.api.types.is_float_dtype(frame["Torque [Nm]"]) and frame["Torque [Nm]"].isna().tolist() == [False, True]
    assert pd.api.types.is_datetime64_any_dtype(frame["when"])
    assert frame["Machine failure"].tolist() == [0, 1]


def test_an_empty_first_sheet_and_a_broken_workbook_are_one_sentence(tmp_path: Path) -> None:
    empty = _workbook(tmp_path / "empty.xlsx", [], second_sheet=True)
    broken = tmp_path / "broken.xlsx"
    broken.write_text("a,b\n1,2\n")  # a CSV renamed

    with pytest.raises(InvalidDataError, match=r"first sheet of 'empty.xlsx' is empty \(it has 2 sheets"):
        read_table(empty)
    with pytest.raises(InvalidDataError, match=r"Cannot read Excel workbook 'broken.xlsx' .*save it again as \.xlsx"):
        read_table(broken)


@pytest.mark.parametrize(("name", "kind"), [("old.xls", "Excel 97-2003"), ("sheet.ods", "OpenDocument")])
def test_formats_openpyxl_cannot_open_say_exactly_how_to_export(tmp_path: Path, name: str, kind: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\xd0\xcf\x11\xe0" + bytes(64))

    with pytest.raises(InvalidDataError, match=rf"is an {kind} spreadsheet.*Save As > Excel Workbook \(\.xlsx\)"):
        read_table(path)
