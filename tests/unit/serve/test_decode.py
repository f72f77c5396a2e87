"""Request decoding against the data contract: types, missing values, counts, and refusals by field and row."""

from __future__ import annotations

import numpy as np
import pytest

from kiln.data.schema import Column, Schema
from kiln.serve.decode import RequestProblem, decode_records, records_from_csv, records_from_json

SCHEMA = Schema([
    Column("speed", "numeric", nullable=False, minimum=0.0, maximum=10.0),
    Column("load", "numeric", nullable=True, minimum=0.0, maximum=1.0),
    Column("kind", "categorical", nullable=False, categories=["a", "b"]),
    Column("on", "boolean", nullable=True),
    Column("when", "datetime", nullable=True),
    Column("note", "text", nullable=True),
])


def _problem(records: list[dict]) -> RequestProblem:
    with pytest.raises(RequestProblem) as caught:
        decode_records(records, SCHEMA)
    return caught.value


def test_values_become_typed_arrays_and_counts() -> None:
    decoded = decode_records([
        {"speed": 1, "load": None, "kind": "a", "on": True, "when": "2026-01-02T03:04:05Z", "note": "hi there"},
        {"speed": 11.5, "kind": "c", "on": "no", "extra": [1, 2]},
    ], SCHEMA)
    assert decoded.columns["speed"].tolist() == [1.0, 11.5]
    assert np.isnan(decoded.columns["load"]).all()
    assert decoded.columns["kind"].tolist() == ["a", "c"]
    assert decoded.columns["on"].tolist() == [1.0, 0.0]
    assert decoded.columns["when"][0] == np.datetime64("2026-01-02T03:04:05")
    assert np.isnat(decoded.columns["when"][1])
    assert decoded.counts() == {"unseen_categories": {"kind": 1}, "out_of_range": {"speed": 1}}


def test_a_time_zone_offset_is_converted_to_utc() -> None:
    decoded = decode_records([{"speed": 1, "kind": "a", "when": "2026-01-02T05:00:00+02:00"}], SCHEMA)
    assert decoded.columns["when"][0] == np.datetime64("2026-01-02T03:00:00")


@pytest.mark.parametrize(("record", "field", "words"), [
    ({"kind": "a"}, "speed", "required"),
    ({"speed": None, "kind": "a"}, "speed", "required"),
    ({"speed": "1", "kind": "a"}, "speed", "must be a number"),
    ({"speed": 1, "kind": "a", "on": "maybe"}, "on", "true or false"),
    ({"speed": 1, "kind": "a", "when": "yesterday"}, "when", "ISO 8601"),
    ({"speed": 1, "kind": "a", "note": 5}, "note", "must be text"),
    ({"speed": 1, "kind": "x" * 10_001}, "kind", "category"),
    ({"speed": 10**400, "kind": "a"}, "speed", "too large"),
])
def test_refusals_name_the_field_and_the_row(record: dict, field: str, words: str) -> None:
    problem = _problem([{"speed": 1, "kind": "a"}, record])
    assert (problem.status, problem.field, problem.row) == (422, field, 1)
    assert words in problem.message
    assert problem.body()["detail"][0]["loc"] == ["body", "rows", 1, field]


@pytest.mark.parametrize("body", [b"{", b"[NaN]", b'{"rows": [{"speed": 1e309}]}', b'"text"', b"7",
                                  b'{"speed": Infinity}', b'["\xed\xa0\x80"]'])
def test_unparseable_or_non_finite_json_is_a_422_on_the_body(body: bytes) -> None:
    with pytest.raises(RequestProblem) as caught:
        decode_records(records_from_json(body, max_rows=10), SCHEMA)
    assert caught.value.status == 422


def test_three_body_shapes_and_the_row_limit() -> None:
    one = {"speed": 1, "kind": "a"}
    assert records_from_json(b'{"rows": [{"speed": 1, "kind": "a"}]}', max_rows=1) == [one]
    assert records_from_json(b'[{"speed": 1, "kind": "a"}]', max_rows=1) == [one]
    assert records_from_json(b'{"speed": 1, "kind": "a"}', max_rows=1) == [one]
    with pytest.raises(RequestProblem) as caught:
        records_from_json(b"[{}, {}]", max_rows=1)
    assert caught.value.status == 413
    with pytest.raises(RequestProblem, match="no rows"):
        records_from_json(b'{"rows": []}', max_rows=1)


def test_csv_batches_treat_empty_cells_as_missing() -> None:
    records = records_from_csv(b"speed,load,kind\n1,,a\n2,0.5,b\n", max_rows=10)
    decoded = decode_records(records, SCHEMA)
    assert decoded.columns["speed"].tolist() == [1.0, 2.0]
    assert np.isnan(decoded.columns["load"][0]) and decoded.columns["load"][1] == 0.5


def test_nesting_past_the_depth_limit_is_refused_even_in_ignored_fields() -> None:
    assert records_from_json(b'{"rows": [{"speed": 1, "junk": [[1]]}]}', max_rows=1, max_depth=8)
    with pytest.raises(RequestProblem) as caught:
        records_from_json(b'{"rows": [{"speed": 1, "junk": [[[[[[1]]]]]]}]}', max_rows=1, max_depth=8)
    assert (caught.value.status, caught.value.field, caught.value.row) == (422, "junk", 0)


def test_a_csv_row_longer_than_the_header_is_refused_naming_it() -> None:
    with pytest.raises(RequestProblem, match="Row 1 has 4 cells") as refused:
        records_from_csv(b"speed,load,kind\n1,2,a\n\n1,2,a,9\n", max_rows=10)
    assert (refused.value.status, refused.value.field, refused.value.row) == (422, "rows", 1)
    assert records_from_csv(b'speed,load,kind\n1,2,"a,b"\n', max_rows=10)[0]["kind"] == "a,b"


def test_csv_columns_and_cells_are_capped_before_parsing() -> None:
    with pytest.raises(RequestProblem, match="5 columns") as wide:
        records_from_csv(b"a,b,c,d,e\n1,2,3,4,5\n", max_rows=10, max_columns=4)
    assert (wide.value.status, wide.value.field) == (413, "columns")
    with pytest.raises(RequestProblem, match="cells") as many:
        records_from_csv(b"a,b\n" + b"1,2\n" * 6, max_rows=10, max_cells=10)
    assert many.value.status == 413


def test_a_json_record_with_too_many_fields_is_413() -> None:
    with pytest.raises(RequestProblem, match="Row 0 has 3 fields") as refused:
        records_from_json(b'{"a": 1, "b": 2, "c": 3}', max_rows=1, max_columns=2)
    assert (refused.value.status, refused.value.field) == (413, "columns")
