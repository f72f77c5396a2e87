"""build_prep: one ColumnTransformer per learner family, built from the schema."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from kiln.data.schema import Schema, infer_schema
from kiln.prep.build import build_prep

N = 60
WORDS = ["pump", "valve", "seal", "leak", "noise", "heat", "pressure", "drop", "replaced", "checked", "cleaned", "fine"]


@pytest.fixture(scope="module")
def training() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "pressure": np.where(rng.random(N) < 0.2, np.nan, rng.normal(3, 1, N)),
        "running": rng.random(N) > 0.5,
        "site": np.where(rng.random(N) < 0.1, None, rng.choice(["north", "south", "east"], N)),
        "model": rng.choice(["A1", "B2"], N),
        "installed": pd.date_range("2020-01-01", periods=N, freq="7D"),
        "log": [" ".join(rng.choice(WORDS, 9)) + f" shift {i}" for i in range(N)],
    })


@pytest.fixture(scope="module")
def schema(training: pd.DataFrame) -> Schema:
    schema = infer_schema(training)
    assert {c.name: c.kind for c in schema.columns} == {
        "pressure": "numeric", "running": "boolean", "site": "categorical", "model": "categorical",
        "installed": "datetime", "log": "text"}
    return schema


@pytest.fixture(scope="module")
def unseen(schema: Schema) -> pd.DataFrame:
    """Two rows with values training never saw, and missing values everywhere they can be."""
    return schema.coerce(pd.DataFrame({
        "pressure": [np.nan, 2.5], "running": [True, False], "site": ["west", None], "model": ["Z9", "A1"],
        "installed": [pd.Timestamp("2031-05-01"), pd.NaT], "log": ["entirely new words", None]}))


def _dense(matrix: object) -> np.ndarray:
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)


@pytest.mark.parametrize("family", ["tree", "linear", "knn"])
def test_prep_keeps_one_output_row_per_input_row(family: str, schema: Schema, training: pd.DataFrame,
                                                 unseen: pd.DataFrame) -> None:
    plan = build_prep(schema, family)

    fitted = plan.transformer.fit_transform(schema.coerce(training))
    new = plan.transformer.transform(unseen)

    assert fitted.shape[0] == N
    assert new.shape == (2, fitted.shape[1])


def test_tree_prep_categorical_indices_point_at_ordinal_codes(schema: Schema, training: pd.DataFrame) -> None:
    plan = build_prep(schema, "tree")

    out = plan.transformer.fit_transform(schema.coerce(training))

    assert len(plan.categorical) == 2
    for index, name in zip(plan.categorical, ["site", "model"], strict=True):
        codes = out[:, index]
        levels = training[name].dropna().unique()
        present = codes[~np.isnan(codes)]
        assert set(present) == set(range(len(levels)))  # codes 0..k-1
        assert np.isnan(codes).sum() == training[name].isna().sum()  # missing stays missing
        for level in levels:  # one code per level
            assert len(set(codes[(training[name] == level).to_numpy()])) == 1


def test_tree_prep_passes_numbers_through_with_missing_values(schema: Schema, training: pd.DataFrame) -> None:
    out = build_prep(schema, "tree").transformer.fit_transform(schema.coerce(training))

    np.testing.assert_array_equal(out[:, 0], training["pressure"].to_numpy())
    np.testing.assert_array_equal(out[:, 1], training["running"].to_numpy(dtype=float))


def test_tree_prep_gives_unseen_category_a_missing_code(schema: Schema, training: pd.DataFrame,
                                                        unseen: pd.DataFrame) -> None:
    plan = build_prep(schema, "tree")
    plan.transformer.fit(schema.coerce(training))

    out = plan.transformer.transform(unseen)

    site, model = plan.categorical
    assert np.isnan(out[0, site]) and np.isnan(out[0, model])  # 'west', 'Z9': never seen
    assert np.isnan(out[1, site])  # missing
    assert not np.isnan(out[1, model])  # 'A1' is known


@pytest.mark.parametrize("family", ["linear", "knn"])
def test_linear_and_knn_prep_leave_no_missing_values(family: str, schema: Schema, training: pd.DataFrame,
                                                     unseen: pd.DataFrame) -> None:
    plan = build_prep(schema, family)

    fitted = _dense(plan.transformer.fit_transform(schema.coerce(training)))
    new = _dense(plan.transformer.transform(unseen))

    assert plan.categorical == ()
    assert np.isfinite(fitted).all()
    assert np.isfinite(new).all()


def test_linear_prep_is_sparse_and_knn_prep_dense(schema: Schema, training: pd.DataFrame) -> None:
    features = schema.coerce(training)

    assert sp.issparse(build_prep(schema, "linear").transformer.fit_transform(features))
    assert isinstance(build_prep(schema, "knn").transformer.fit_transform(features), np.ndarray)


@pytest.mark.parametrize("family", ["linear", "knn"])
def test_one_hot_of_an_unseen_category_is_all_zero(family: str) -> None:
    rng = np.random.default_rng(1)
    training = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], N), "x": rng.normal(size=N)})
    schema = infer_schema(training)
    plan = build_prep(schema, family)
    plan.transformer.fit(schema.coerce(training))
    onehot = plan.transformer.output_indices_["categorical"]

    out = _dense(plan.transformer.transform(schema.coerce(pd.DataFrame({"colour": ["purple", "red"],
                                                                        "x": [0.0, 0.0]}))))

    assert out[0, onehot].tolist() == [0.0, 0.0, 0.0]
    assert out[1, onehot].sum() == 1.0


def test_prep_of_numbers_only_has_no_categorical_indices() -> None:
    frame = pd.DataFrame({"a": np.arange(30) % 7, "b": np.linspace(0, 1, 30)})
    schema = infer_schema(frame)

    plan = build_prep(schema, "tree")

    assert plan.categorical == ()
    assert plan.transformer.fit_transform(schema.coerce(frame)).shape == (30, 2)
