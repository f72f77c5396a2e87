"""infer_schema decides each column's kind and drops what cannot help; Schema.coerce
applies the training-time reading to new tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from kiln.data.schema import Column, Schema, infer_schema
from kiln.errors import InvalidDataError

N = 40
WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "singing", "loudly", "in",
         "the", "rain"]


@pytest.fixture(scope="module")
def mixed() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "temperature": rng.normal(20, 5, N),
        "failed_before": rng.random(N) > 0.5,
        "colour": rng.choice(["red", "green", "blue"], N),
        "installed": pd.date_range("2020-01-01", periods=N, freq="D"),
        "serviced": [f"2021-03-{i % 28 + 1:02d}" for i in range(N)],
        "notes": [" ".join(rng.choice(WORDS, 8)) + f" visit {i}" for i in range(N)],
        "n_doors": rng.integers(0, 4, N),
        "mileage": rng.integers(0, 100_000, N),
    })


def _kinds(schema: Schema) -> dict[str, str]:
    return {c.name: c.kind for c in schema.columns}


def test_schema_reads_each_kind_of_column(mixed: pd.DataFrame) -> None:
    schema = infer_schema(mixed)

    assert _kinds(schema) == {
        "temperature": "numeric", "failed_before": "boolean", "colour": "categorical",
        "installed": "datetime", "serviced": "datetime", "notes": "text", "n_doors": "numeric",
        "mileage": "numeric",
    }
    assert schema.dropped == {}


def test_schema_stores_sorted_categories(mixed: pd.DataFrame) -> None:
    colour = next(c for c in infer_schema(mixed).columns if c.name == "colour")

    assert colour.categories == ["blue", "green", "red"]


def test_schema_flags_integers_with_few_levels_as_discrete(mixed: pd.DataFrame) -> None:
    columns = {c.name: c for c in infer_schema(mixed).columns}

    assert columns["n_doors"].discrete
    assert not columns["mileage"].discrete
    assert not columns["temperature"].discrete
    assert columns["n_doors"].minimum == float(mixed["n_doors"].min())
    assert columns["n_doors"].maximum == float(mixed["n_doors"].max())


def test_schema_excludes_the_target(mixed: pd.DataFrame) -> None:
    schema = infer_schema(mixed, exclude=("colour",))

    assert "colour" not in schema.names
    assert "colour" not in schema.dropped


def test_schema_marks_columns_with_missing_values_nullable() -> None:
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "b": [1.0, 2.0, 3.0, 4.5]})

    columns = {c.name: c for c in infer_schema(frame).columns}

    assert columns["a"].nullable and not columns["a"].required
    assert columns["b"].required


def test_schema_drops_monotonic_unique_integer_identifier() -> None:
    frame = pd.DataFrame({"row": np.arange(100, 100 + N), "x": np.random.default_rng(1).normal(size=N)})

    schema = infer_schema(frame)

    assert schema.names == ["x"]
    assert schema.dropped == {"row": "identifier: an integer unique per row"}


def test_schema_drops_shuffled_unique_integer_named_like_an_id() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"customer_id": rng.permutation(N) + 5000, "score": rng.permutation(N) * 3,
                          "x": rng.normal(size=N)})

    schema = infer_schema(frame)

    assert "customer_id" in schema.dropped
    assert "score" in schema.names  # unique and integer, but neither ordered nor named like an id


def test_schema_drops_unique_strings_like_serial_numbers() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"serial": [f"SN-{rng.integers(10**6)}-{i}" for i in range(N)],
                          "x": rng.normal(size=N)})

    schema = infer_schema(frame)

    assert schema.dropped == {"serial": "identifier: a value unique per row"}


def test_schema_keeps_unique_date_strings_as_datetime() -> None:
    dates = pd.date_range("2019-06-01", periods=N, freq="D")
    frame = pd.DataFrame({"day": dates.strftime("%Y-%m-%d"), "stamp": dates.strftime("%d/%m/%Y %H:%M"),
                          "x": np.arange(N) % 7})

    schema = infer_schema(frame)

    assert _kinds(schema) == {"day": "datetime", "stamp": "datetime", "x": "numeric"}
    assert schema.dropped == {}


def test_schema_keeps_unique_datetime64_column() -> None:
    frame = pd.DataFrame({"at": pd.date_range("2024-01-01", periods=N, freq="h"), "x": np.arange(N) % 3})

    assert _kinds(infer_schema(frame)) == {"at": "datetime", "x": "numeric"}


def test_schema_keeps_long_unique_prose_as_text() -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"review": [" ".join(rng.choice(WORDS, 10)) + f" #{i}" for i in range(N)],
                          "x": rng.normal(size=N)})

    schema = infer_schema(frame)

    assert _kinds(schema)["review"] == "text"
    assert schema.dropped == {}


def test_schema_reads_short_repeated_strings_as_categorical_not_text() -> None:
    frame = pd.DataFrame({"size": ["small", "medium", "large", "medium"] * 10, "x": np.arange(N) % 5})

    assert _kinds(infer_schema(frame))["size"] == "categorical"


def test_schema_does_not_drop_identifiers_in_small_tables() -> None:
    frame = pd.DataFrame({"row": np.arange(10), "x": np.arange(10) % 3})

    assert "row" in infer_schema(frame).names


def test_schema_drops_constant_and_all_missing_columns() -> None:
    frame = pd.DataFrame({"same": [7] * N, "blank": [np.nan] * N, "nothing": [None] * N,
                          "mostly_same": [1.0] * (N - 1) + [np.nan], "x": np.arange(N) % 4})

    schema = infer_schema(frame)

    assert schema.names == ["x"]
    assert schema.dropped == {"same": "constant: a single value", "blank": "all values are missing",
                              "nothing": "all values are missing", "mostly_same": "constant: a single value"}


def test_schema_refuses_a_table_with_no_usable_feature() -> None:
    frame = pd.DataFrame({"row": np.arange(N), "same": ["a"] * N, "target": np.arange(N) % 2})

    with pytest.raises(InvalidDataError, match=r"No usable feature column is left \(dropped: .*'row'.*'same'"):
        infer_schema(frame, exclude=("target",))


def test_schema_reads_nullable_integer_and_boolean_dtypes() -> None:
    frame = pd.DataFrame({"i": pd.array([1, 2, None, 4] * 6, dtype="Int64"),
                          "b": pd.array([True, False, None, True] * 6, dtype="boolean")})

    schema = infer_schema(frame)
    coerced = schema.coerce(frame)

    assert _kinds(schema) == {"i": "numeric", "b": "boolean"}
    assert coerced.dtypes.tolist() == [np.float64, np.float64]
    assert coerced["b"].isna().sum() == 6


# -- coerce ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def schema() -> Schema:
    frame = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0], "b": ["x", "y", "x", "z"], "c": [1, 2, 3, 4],
                          "flag": [True, False, True, False]})
    return infer_schema(frame)


def test_coerce_returns_training_column_order_and_ignores_extra_columns(schema: Schema) -> None:
    new = pd.DataFrame({"extra": ["?"], "flag": [True], "c": [5], "b": ["y"], "a": [0.5]})

    out = schema.coerce(new)

    assert list(out.columns) == ["a", "b", "c", "flag"]
    assert out.iloc[0].tolist() == [0.5, "y", 5.0, 1.0]


def test_coerce_fills_a_missing_nullable_column_with_nan(schema: Schema) -> None:
    out = schema.coerce(pd.DataFrame({"b": ["x", "q"], "c": [5, 6], "flag": [False, True]}, index=[10, 11]))

    assert out["a"].isna().all()
    assert out["a"].dtype == np.float64
    assert list(out.index) == [10, 11]


def test_coerce_refuses_a_missing_required_column_naming_it(schema: Schema) -> None:
    with pytest.raises(InvalidDataError, match=r"Required column\(s\) \['c'\] are missing"):
        schema.coerce(pd.DataFrame({"a": [1.0], "b": ["x"], "flag": [True]}))


def test_coerce_refuses_text_in_a_numeric_column_naming_column_and_row(schema: Schema) -> None:
    new = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x"] * 3, "c": ["3", "4", "four"], "flag": [True] * 3})

    with pytest.raises(InvalidDataError, match=r"Column 'c' must be numeric but row 3 \(counting from 1\) holds "
                                               r"'four'"):
        schema.coerce(new)


def test_coerce_parses_numbers_written_as_strings(schema: Schema) -> None:
    new = pd.DataFrame({"a": ["1.5", None], "b": ["x", "y"], "c": ["3", "4"], "flag": [True, False]})

    out = schema.coerce(new)

    assert out["c"].tolist() == [3.0, 4.0]
    assert out["a"].iloc[0] == 1.5 and np.isnan(out["a"].iloc[1])


def test_coerce_reads_boolean_words(schema: Schema) -> None:
    new = pd.DataFrame({"a": [1.0] * 4, "b": ["x"] * 4, "c": [1] * 4, "flag": ["yes", "no", "True", "false"]})

    assert schema.coerce(new)["flag"].tolist() == [1.0, 0.0, 1.0, 0.0]


def test_coerce_turns_categories_into_strings_and_keeps_missing(schema: Schema) -> None:
    new = pd.DataFrame({"a": [1.0, 2.0], "b": [7, None], "c": [1, 2], "flag": [True, False]}, dtype=object)

    out = schema.coerce(new)

    assert out["b"].iloc[0] == "7"
    assert pd.isna(out["b"].iloc[1])


def test_coerce_matches_numeric_looking_categories_when_the_batch_reads_as_float() -> None:
    training = pd.DataFrame({"postcode": ["75001", "2A004", "69002", "75001"] * 5, "x": np.arange(20) % 3})
    schema = infer_schema(training)
    assert _kinds(schema)["postcode"] == "categorical"
    batch = pd.DataFrame({"postcode": [75001.0, np.nan], "x": [1, 2]})  # what read_csv makes of "75001" and a blank

    out = schema.coerce(batch)

    assert out["postcode"].iloc[0] == "75001"


def test_coerce_parses_datetime_strings() -> None:
    frame = pd.DataFrame({"day": [f"2021-01-{d:02d}" for d in range(1, 21)], "x": np.arange(20) % 3})
    schema = infer_schema(frame)

    out = schema.coerce(pd.DataFrame({"day": ["2022-02-03", "not a date"], "x": [1, 2]}))

    assert out["day"].iloc[0] == pd.Timestamp("2022-02-03")
    assert pd.isna(out["day"].iloc[1])


def test_schema_round_trips_through_json(mixed: pd.DataFrame) -> None:
    schema = infer_schema(mixed.assign(row=np.arange(N)))

    restored = Schema.from_dict(json.loads(json.dumps(schema.to_dict())))

    assert restored == schema
    assert restored.dropped == {"row": "identifier: an integer unique per row"}
    assert all(isinstance(c, Column) for c in restored.columns)
