"""infer_target picks the task from the target column (unless told) and encodes labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kiln.data.target import Target, infer_target
from kiln.errors import InvalidDataError, InvalidOptionError, KilnError

N = 200


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "churned": rng.integers(0, 2, N),
        "plan": rng.choice(["basic", "plus", "pro"], N),
        "spend": rng.normal(50, 10, N),
        "stars": rng.integers(1, 6, N),
        "visits": rng.integers(0, 1000, N),
        "flag": rng.random(N) > 0.5,
        "answer": rng.choice(["yes", "no"], N),
        "constant": [1] * N,
        "Label": rng.integers(0, 2, N),
        "empty": [np.nan] * N,
    })


@pytest.mark.parametrize(("column", "task", "classes"), [
    ("churned", "binary", [0, 1]),
    ("answer", "binary", ["no", "yes"]),
    ("flag", "binary", [False, True]),
    ("plan", "multiclass", ["basic", "plus", "pro"]),
    ("stars", "multiclass", [1, 2, 3, 4, 5]),
    ("spend", "regression", None),
    ("visits", "regression", None),
])
def test_target_task_is_inferred_from_the_values(frame: pd.DataFrame, column: str, task: str,
                                                 classes: list | None) -> None:
    target = infer_target(frame, column)

    assert (target.task, target.classes) == (task, classes)


def test_classes_are_plain_python_values(frame: pd.DataFrame) -> None:
    classes = infer_target(frame, "stars").classes

    assert all(type(c) is int for c in classes)


def test_integer_target_with_many_rows_per_level_is_multiclass_not_regression() -> None:
    values = pd.DataFrame({"y": np.arange(2000) % 15})

    assert infer_target(values, "y").task == "multiclass"


def test_integer_target_with_few_rows_per_level_is_regression() -> None:
    values = pd.DataFrame({"y": np.arange(60) % 15})  # 15 levels in 60 rows: a count, not a class

    assert infer_target(values, "y").task == "regression"


@pytest.mark.parametrize(("column", "task"), [("stars", "regression"), ("spend", "multiclass"),
                                              ("churned", "multiclass")])
def test_task_option_overrides_the_guess(frame: pd.DataFrame, column: str, task: str) -> None:
    assert infer_target(frame, column, task).task == task


def test_single_class_target_is_refused_saying_single_value(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidDataError, match=r"'constant' has a single value .* in 200 rows; a classifier "
                                               r"needs at least two classes"):
        infer_target(frame, "constant")


def test_single_class_message_shows_the_plain_value(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidDataError, match=r"single value \(1\) in 200 rows"):
        infer_target(frame, "constant")


def test_single_value_regression_target_is_refused(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidDataError, match=r"single value .*nothing to learn"):
        infer_target(frame, "constant", "regression")


def test_all_missing_target_is_refused(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidDataError, match=r"'empty' has no values"):
        infer_target(frame, "empty")


def test_regression_on_strings_is_refused(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidOptionError, match=r"'plan' is not numeric .*regression needs numbers"):
        infer_target(frame, "plan", "regression")


def test_binary_option_on_three_classes_is_refused(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidOptionError, match=r"has 3 classes, so it is not binary; use --task multiclass"):
        infer_target(frame, "plan", "binary")


def test_unknown_target_column_suggests_the_close_name(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidDataError, match=r"'label' is not in the table\. Did you mean 'Label'\?"):
        infer_target(frame, "label")


def test_unknown_target_column_lists_the_columns(frame: pd.DataFrame) -> None:
    with pytest.raises(KilnError, match=r"'outcome' is not in the table\. Columns are: \['churned', 'plan'"):
        infer_target(frame, "outcome")


@pytest.mark.parametrize("column", ["plan", "answer", "stars", "flag", "churned"])
def test_encode_then_decode_gives_the_labels_back(frame: pd.DataFrame, column: str) -> None:
    target = infer_target(frame, column)

    codes = target.encode(frame[column])

    assert codes.dtype == np.int64
    assert codes.min() == 0 and codes.max() == len(target.classes) - 1
    np.testing.assert_array_equal(target.decode(codes), frame[column].to_numpy(dtype=object))


def test_encode_regression_gives_floats(frame: pd.DataFrame) -> None:
    target = infer_target(frame, "visits")

    encoded = target.encode(frame["visits"])

    assert encoded.dtype == np.float64
    np.testing.assert_array_equal(encoded, frame["visits"].to_numpy(dtype=float))


def test_encode_refuses_labels_outside_the_classes() -> None:
    target = Target("plan", "multiclass", ["basic", "plus", "pro"])

    with pytest.raises(InvalidDataError, match=r"Target values \['gold'\] are not among the model's classes"):
        target.encode(pd.Series(["basic", "gold"]))
