"""read_table: every supported format arrives as a DataFrame; every unreadable file is an
InvalidDataError that says why, never a parser traceback."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kiln.data.load import read_table
from kiln.errors import InvalidDataError, KilnError

SNIFF_BYTES = 64 * 1024  # how much of a CSV load.py reads to guess encoding and delimiter


def test_read_csv_with_semicolon_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "sales.csv"
    path.write_text("region;units;price\nnorth;3;9.5\nsouth;5;7.25\n")

    frame = read_table(path)

    assert list(frame.columns) == ["region", "units", "price"]
    assert frame["units"].tolist() == [3, 5]
    assert frame["price"].tolist() == [9.5, 7.25]


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_read_csv_in_single_byte_encoding_keeps_accents(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes("name,city\nRené,Orléans\nJosé,Évry\n".encode(encoding))

    frame = read_table(path)

    assert frame["name"].tolist() == ["René", "José"]
    assert frame["city"].tolist() == ["Orléans", "Évry"]


def test_read_utf8_csv_with_byte_order_mark_drops_the_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffcafé,n\nnoir,1\nau lait,2\n".encode())

    frame = read_table(path)

    assert list(frame.columns) == ["café", "n"]


@pytest.mark.parametrize("suffix", [".tsv", ".txt", ".csv"])
def test_read_tab_separated_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"table{suffix}"
    path.write_text("a\tb\tlabel\n1\t2.5\tx\n3\t4.5\ty\n")

    frame = read_table(path)

    assert list(frame.columns) == ["a", "b", "label"]
    assert frame["b"].tolist() == [2.5, 4.5]


def test_read_parquet(tmp_path: Path) -> None:
    original = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None], "c": [0.5, None, 1.5]})
    path = tmp_path / "table.parquet"
    original.to_parquet(path)

    frame = read_table(path)

    pd.testing.assert_frame_equal(frame, original)


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson", ".json"])
def test_read_json_lines(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"rows{suffix}"
    path.write_text('{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n{"a": 3, "b": null}\n')

    frame = read_table(path)

    assert frame["a"].tolist() == [1, 2, 3]
    assert frame["b"].tolist()[:2] == ["x", "y"]
    assert frame["b"].isna().tolist() == [False, False, True]


def test_read_json_array_file(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"
    path.write_text('[{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]')

    frame = read_table(path)

    assert frame.to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}


def test_read_table_passes_a_dataframe_through_with_string_column_names() -> None:
    frame = read_table(pd.DataFrame({0: [1, 2], "b": [3, 4]}))

    assert list(frame.columns) == ["0", "b"]


def test_read_table_leaves_the_callers_dataframe_unchanged() -> None:
    original = pd.DataFrame({0: [1, 2], 1: [3, 4]})

    read_table(original)

    assert list(original.columns) == [0, 1]


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidDataError, match=r"does not exist; check the path"):
        read_table(tmp_path / "nope.csv")


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.touch()

    with pytest.raises(InvalidDataError, match=r"is empty; it needs a header row"):
        read_table(path)


def test_header_without_rows_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("a,b\n")

    with pytest.raises(InvalidDataError, match=r"has a header \(2 columns\) but no rows"):
        read_table(path)


@pytest.mark.parametrize("name", ["table", "table.csv.gz"])
def test_unsupported_suffix_is_refused_naming_the_suffix(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("a,b\n1,2\n")

    with pytest.raises(InvalidDataError, match=r"unsupported suffix .*use \.csv, \.parquet, \.jsonl or \.xlsx"):
        read_table(path)


def test_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "data.csv"
    folder.mkdir()

    with pytest.raises(InvalidDataError, match=r"is a folder, not a data file"):
        read_table(folder)


def test_duplicated_column_names_in_a_dataframe_are_refused() -> None:
    frame = pd.DataFrame([[1, 2, 3]], columns=["a", "a", "b"])

    with pytest.raises(InvalidDataError, match=r"Column names \['a'\] appear more than once"):
        read_table(frame)


def test_duplicated_column_names_in_a_csv_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("a,a,b\n1,2,3\n4,5,6\n")

    with pytest.raises(InvalidDataError, match=r"appear more than once"):
        read_table(path)


def test_unbalanced_quote_is_an_invalid_data_error(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_text('a,b\n"1,2\n')

    with pytest.raises(InvalidDataError, match=r"Cannot parse CSV 'quote.csv'.*check quoting"):
        read_table(path)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("bad.parquet", b"not a parquet file", r"Cannot read Parquet 'bad.parquet'"),
    ("bad.jsonl", b"{not json\n", r"Cannot read JSON Lines 'bad.jsonl'.*one JSON object per line"),
])
def test_corrupt_file_is_an_invalid_data_error(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(KilnError, match=message):
        read_table(path)


def _ascii_rows_filling(n_bytes: int) -> str:
    text = "name,v\n"
    while len(text) < n_bytes - 40:
        text += "abcdefghij,1\n"
    return text


def test_utf8_character_across_the_sniff_boundary_is_read_as_utf8(tmp_path: Path) -> None:
    head = _ascii_rows_filling(SNIFF_BYTES)
    filler = "x" * (SNIFF_BYTES - 1 - len(head))  # 'é' starts at the last sniffed byte
    content = (head + filler + "é,2\n").encode("utf-8")
    assert content.index("é".encode()) == SNIFF_BYTES - 1
    path = tmp_path / "long.csv"
    path.write_bytes(content)

    frame = read_table(path)

    assert frame["name"].iloc[-1].endswith("é")


def test_cp1252_accent_after_the_first_64_kib_is_read(tmp_path: Path) -> None:
    content = (_ascii_rows_filling(SNIFF_BYTES) + "y" * 2000 + ",3\nOrléans,4\n").encode("cp1252")
    path = tmp_path / "late.csv"
    path.write_bytes(content)

    frame = read_table(path)

    assert frame["name"].iloc[-1] == "Orléans"
