"""The serving fast path equals `Model.predict_raw`: every learner family on every task,
with numbers, booleans, categories (rare, missing and unseen ones), datetimes and text,
on one row, on a batch walked by numpy and on a batch the libraries predict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from resources import AI4I

import kiln
from kiln.data.schema import Schema, infer_schema
from kiln.data.target import Target
from kiln.export.onnx import columns_from_frame
from kiln.export.synthetic import UNSEEN_CATEGORY
from kiln.learners.registry import all_learners
from kiln.model import FoldModel, Member, Model
from kiln.prep.build import build_prep
from kiln.serve.fast_learners import DirectFold, TreeFold
from kiln.serve.fast_path import (
    FastPathUnavailable,
    FastPredictor,
    synthetic_columns,
)
from kiln.serve.forest_arrays import pack_hist_gradient_boosting, pack_sklearn_forest

WORDS = ("spindle", "bearing", "noise", "after", "the", "night", "shift", "coolant", "leak", "seen",
         "vibration", "high", "replaced", "filter", "operator", "reported", "warm", "motor")
TASKS = ("binary", "multiclass", "regression")
RTOL, ATOL = 1e-6, 1e-9
# Deeper and wider than the conformance suite's cheap parameters, so the walk meets
# real depth, rare categories and missing values.
PARAMS = {"random_forest": {"n_estimators": 30}, "extra_trees": {"n_estimators": 30},
          "hist_gradient_boosting": {"n_rounds": 30, "max_leaf_nodes": 15, "min_samples_leaf": 5}}


def mixed_frame(n: int, seed: int) -> pd.DataFrame:
    """Numbers (one with gaps), a boolean, two categories (one with rare and missing
    levels), a datetime with gaps and free text with gaps, and three targets."""
    rng = np.random.default_rng(seed)
    lines = rng.choice(["a", "b", "c", "d", "e", "f"], n, p=[0.3, 0.25, 0.2, 0.15, 0.06, 0.04])
    lines[rng.random(n) < 0.02] = "rare"  # a level under OneHotEncoder's min_frequency
    line = np.where(rng.random(n) < 0.06, None, lines).astype(object)
    stamps = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 400 * 24 * 60, n), unit="min")
    notes = [" ".join(rng.choice(WORDS, rng.integers(5, 12))) for _ in range(n)]
    frame = pd.DataFrame({
        "load": np.where(rng.random(n) < 0.1, np.nan, rng.normal(50, 10, n)),
        "speed": rng.integers(1000, 3000, n).astype("int64"),
        "night": rng.random(n) < 0.4,
        "line": line,
        "shift": rng.choice(["early", "late", "night"], n),
        "when": pd.Series(stamps).where(rng.random(n) > 0.05),
        "note": pd.Series(notes, dtype=object).where(rng.random(n) > 0.08, None),
    })
    signal = ((frame["load"].fillna(50) - 50) / 10 + (frame["line"] == "a") - 0.5 * frame["night"]
              + (frame["speed"] - 2000) / 600 + frame["note"].fillna("").str.contains("leak")
              + 0.5 * rng.normal(size=n))
    frame["y_binary"] = np.where(signal > signal.median(), "fail", "ok")
    frame["y_multiclass"] = np.digitize(signal, np.quantile(signal, [0.33, 0.66])).astype("int64")
    frame["y_regression"] = signal.astype("float64")
    return frame


TARGETS = [f"y_{task}" for task in TASKS]


@pytest.fixture(scope="module")
def train_frame() -> pd.DataFrame:
    return mixed_frame(320, seed=0)


@pytest.fixture(scope="module")
def schema(train_frame: pd.DataFrame) -> Schema:
    schema = infer_schema(train_frame, exclude=tuple(TARGETS))
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {"load": "numeric", "speed": "numeric", "night": "boolean", "line": "categorical",
                     "shift": "categorical", "when": "datetime", "note": "text"}
    return schema


@pytest.fixture(scope="module")
def new_rows(schema: Schema) -> pd.DataFrame:
    """Rows the models never saw: unseen categories, missing values where allowed."""
    frame = mixed_frame(500, seed=1).drop(columns=TARGETS)
    frame.loc[::7, "line"] = "never-seen"
    frame.loc[::11, "shift"] = "weekend"
    frame.loc[::13, "note"] = ""
    frame.loc[0, ["load", "line", "when", "note"]] = [np.nan, None, pd.NaT, None]
    return frame


def _target(frame: pd.DataFrame, task: str) -> tuple[Target, np.ndarray]:
    values = frame[f"y_{task}"]
    if task == "regression":
        return Target(f"y_{task}", "regression", None), values.to_numpy(dtype="float64")
    classes = sorted(values.unique().tolist())
    return Target(f"y_{task}", task, classes), values.map({c: i for i, c in enumerate(classes)}).to_numpy("int64")


def fold_model(key: str, task: str, frame: pd.DataFrame, schema: Schema, *, without_class: int | None = None) -> Model:
    """A one-member model of `key` with two fold models (fitted on two halves), as training
    keeps them; `without_class` leaves that class out of the first fold's rows."""
    cls = all_learners()[key]
    target, y = _target(frame, task)
    n_classes = len(target.classes or [])
    folds = []
    for i, half in enumerate((np.arange(0, len(frame), 2), np.arange(1, len(frame), 2))):
        if i == 0 and without_class is not None:
            half = half[y[half] != without_class]
        plan = build_prep(schema, cls.tags.prep)
        X = plan.transformer.fit_transform(schema.coerce(frame.iloc[half]))
        params = {**cls.test_params, **PARAMS.get(key, {})}
        learner = cls(task=task, n_classes=max(n_classes, 2), params=params, seed=0)
        learner.fit(X, y[half], categorical=plan.categorical)
        folds.append(FoldModel(plan.transformer, plan.categorical, learner))
    member = Member(f"{key}_0", key, {}, 1.0, folds)
    return Model(target, schema, "metric", [member], pd.DataFrame())


def assert_fast_equals_slow(model: Model, frame: pd.DataFrame) -> FastPredictor:
    predictor = FastPredictor.compile(model)
    columns = columns_from_frame(frame, model.schema)
    for n in (1, 100, len(frame)):  # one row; walked by numpy; predicted by the libraries
        part = {name: values[:n] for name, values in columns.items()}
        expected = model.predict_raw(frame.iloc[:n])
        got = predictor.predict_raw(part, n)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL, err_msg=f"{n} rows")
    return predictor


@pytest.mark.parametrize(("key", "task"), [(key, task) for key in sorted(all_learners()) for task in TASKS
                                           if task in all_learners()[key].tags.tasks])  # each task it declares
def test_fast_path_equals_model_for_every_learner(key: str, task: str, train_frame, schema, new_rows) -> None:
    predictor = assert_fast_equals_slow(fold_model(key, task, train_frame, schema), new_rows)
    assert predictor.slow_parts == []  # every family, linear included, has its own fast function


@pytest.mark.parametrize("key", ["lightgbm", "xgboost", "catboost", "hist_gradient_boosting", "extra_trees"])
def test_fast_path_spreads_a_fold_that_lacked_a_class(key: str, train_frame, schema, new_rows) -> None:
    model = fold_model(key, "multiclass", train_frame, schema, without_class=2)
    assert list(model.members[0].folds[0].learner.classes_seen_) == [0, 1]
    assert_fast_equals_slow(model, new_rows)


@pytest.mark.parametrize("key", ["hist_gradient_boosting", "catboost", "xgboost", "lightgbm"])
def test_fast_path_without_categorical_columns(key: str, train_frame, new_rows) -> None:
    frame = train_frame.drop(columns=["line", "shift"])
    schema = infer_schema(frame, exclude=tuple(TARGETS))
    assert_fast_equals_slow(fold_model(key, "binary", frame, schema), new_rows.drop(columns=["line", "shift"]))


def test_fast_path_blends_members_as_the_model_does(train_frame, schema, new_rows) -> None:
    members = []
    for key, weight in (("lightgbm", 0.3), ("random_forest", 0.2), ("hist_gradient_boosting", 0.25),
                        ("knn", 0.1), ("linear", 0.15)):
        member = fold_model(key, "multiclass", train_frame, schema).members[0]
        member.weight = weight
        members.append(member)
    model = fold_model("extra_trees", "multiclass", train_frame, schema)
    model.members = [*members, *model.members]
    predictor = assert_fast_equals_slow(model, new_rows)
    # Four tree members × two halves share one tree prep (both halves saw every category);
    # the knn and linear halves differ (medians, scales): five distinct preps run per request.
    assert len(predictor._preps) == 5


def test_fast_path_equals_a_trained_model(train_frame, new_rows) -> None:
    model = kiln.train(train_frame.drop(columns=["y_multiclass", "y_regression"]), target="y_binary",
                       time_limit=10, max_trials=4, n_jobs=1, quiet=True,
                       learners=["lightgbm", "hist_gradient_boosting", "extra_trees", "linear"])
    assert_fast_equals_slow(model, new_rows)


def test_fast_path_equals_a_model_trained_on_ai4i() -> None:
    frame = pd.read_csv(AI4I).drop(columns=["TWF", "HDF", "PWF", "OSF", "RNF"])  # failure modes leak the target
    train = frame.sample(1500, random_state=0)  # the AI4I bundle's learners, three folds each
    model = kiln.train(train, target="Machine failure", time_limit=8, max_trials=5, n_jobs=1, quiet=True,
                       learners=["lightgbm", "extra_trees", "hist_gradient_boosting", "catboost", "random_forest"])
    rows = frame.drop(columns=["Machine failure"]).sample(500, random_state=1).reset_index(drop=True)
    assert_fast_equals_slow(model, rows)


def test_compile_raises_when_the_fast_path_cannot_match(train_frame, schema, monkeypatch) -> None:
    import kiln.serve.fast_learners as fast_learners

    def wrong(learner):
        return DirectFold(lambda X: learner.predict_raw(X) * 0.5, fast=True)

    monkeypatch.setitem(fast_learners.BUILDERS, "lightgbm", wrong)
    monkeypatch.setattr(FastPredictor, "_check_parts", lambda self, model, originals: None)  # no repair
    with pytest.raises(FastPathUnavailable, match=r"differs from Model\.predict_raw"):
        FastPredictor.compile(fold_model("lightgbm", "binary", train_frame, schema))


def test_a_compiled_part_that_disagrees_falls_back_to_the_library(train_frame, schema, new_rows,
                                                                   monkeypatch) -> None:
    import kiln.serve.fast_learners as fast_learners

    def wrong(learner):  # a broken fast predictor: the self-check must replace it
        return DirectFold(lambda X: learner.predict_raw(X) * 0.5, fast=True)

    monkeypatch.setitem(fast_learners.BUILDERS, "lightgbm", wrong)
    predictor = assert_fast_equals_slow(fold_model("lightgbm", "binary", train_frame, schema), new_rows)
    assert predictor.slow_parts == ["lightgbm_0 fold 0: the learner's own predict_raw",
                                    "lightgbm_0 fold 1: the learner's own predict_raw"]


def test_walked_trees_equal_the_library_with_missing_and_unknown_codes(train_frame, schema, monkeypatch) -> None:
    from kiln.learners import onehot

    monkeypatch.setattr(onehot, "MAX_LEVELS", 0)  # native category splits, as a column too wide for one-hot gets
    for key in ("extra_trees", "hist_gradient_boosting"):
        model = fold_model(key, "multiclass", train_frame, schema)
        fold = model.members[0].folds[0]
        X = fold.prep.transform(schema.coerce(train_frame))
        codes = list(fold.categorical)
        X[::3, codes] = np.nan
        X[1::5, codes] = 99.0  # a code past every known category
        X[2::7, 0] = np.nan
        estimator = fold.learner.estimator_
        if key == "extra_trees":
            got = pack_sklearn_forest(estimator).leaf_values(X).mean(axis=1)
        else:
            pack = pack_hist_gradient_boosting(estimator)
            assert pack.categorical is not None
            raw = pack.leaf_values(estimator._preprocessor.transform(X)).sum(axis=1) + estimator._baseline_prediction
            got = estimator._loss.predict_proba(raw)
        np.testing.assert_allclose(got, estimator.predict_proba(X), rtol=RTOL, atol=ATOL)


def test_tree_learners_are_walked_in_one_bank(train_frame, schema) -> None:
    model = fold_model("random_forest", "regression", train_frame, schema)
    model.members += fold_model("hist_gradient_boosting", "regression", train_frame, schema).members
    for member in model.members:
        member.weight = 0.5
    predictor = FastPredictor.compile(model)
    assert all(isinstance(f.runner, TreeFold) for m in predictor._members for f in m.folds)
    assert predictor._bank is not None and predictor._bank.n_packs == 4


def test_synthetic_columns_cover_missing_and_unseen_values(schema) -> None:
    columns = synthetic_columns(schema)
    assert any(value is None for value in columns["line"])
    assert UNSEEN_CATEGORY in set(columns["line"])
    assert None not in set(columns["shift"])  # training never had it missing
    assert np.isnat(columns["when"]).any() and np.isnan(columns["load"]).any()
    assert not np.isnan(columns["speed"]).any()
