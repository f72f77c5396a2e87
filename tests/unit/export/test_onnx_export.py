"""`kiln export --format onnx`: one graph that ONNX Runtime runs to Model.predict_raw's answers,
for every family it converts and every task, with categories (rare, missing, unseen), missing
numbers and datetimes; a part it cannot convert is refused by name."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from kiln.cli import app
from kiln.data.schema import Schema, infer_schema
from kiln.data.target import Target
from kiln.export.onnx import ExportRefused, build_graph, columns_from_frame, run, session, verify
from kiln.learners.registry import all_learners
from kiln.model import FoldModel, Member, Model
from kiln.prep.build import build_prep

TASKS = ("binary", "multiclass", "regression")
TARGETS = [f"y_{task}" for task in TASKS]


def frame(n: int, seed: int, *, categories: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    levels = rng.choice(["a", "b", "c", "d", "rare"], n, p=[0.35, 0.3, 0.2, 0.13, 0.02])
    stamps = pd.Timestamp("1968-06-01") + pd.to_timedelta(rng.integers(0, 60 * 365 * 24 * 60, n), unit="min")
    out = pd.DataFrame({
        "load": np.where(rng.random(n) < 0.1, np.nan, rng.normal(50, 10, n)),
        "speed": rng.integers(1000, 3000, n).astype("int64"),
        "night": rng.random(n) < 0.4,
        "when": pd.Series(stamps).where(rng.random(n) > 0.05),
    })
    signal = (out["load"].fillna(50) - 50) / 10 + (out["speed"] - 2000) / 600 - 0.5 * out["night"] \
        + 0.4 * rng.normal(size=n)
    if categories:
        out["line"] = pd.Series(levels, dtype=object).where(rng.random(n) > 0.06, None)
        signal = signal + (out["line"] == "a")
    out["y_binary"] = np.where(signal > signal.median(), "fail", "ok")
    out["y_multiclass"] = np.digitize(signal, np.quantile(signal, [0.33, 0.66])).astype("int64")
    out["y_regression"] = signal.astype("float64")
    return out


def one_member_model(key: str, task: str, train: pd.DataFrame) -> Model:
    """Two fold models of `key` fitted on two halves (as training keeps them), weight 1."""
    schema = infer_schema(train, exclude=tuple(TARGETS))
    cls = all_learners()[key]
    values = train[f"y_{task}"]
    if task == "regression":
        target, y = Target(f"y_{task}", task, None), values.to_numpy("float64")
    else:
        classes = sorted(values.unique().tolist())
        target, y = Target(f"y_{task}", task, classes), values.map({c: i for i, c in enumerate(classes)}).to_numpy()
    folds = []
    for half in (np.arange(0, len(train), 2), np.arange(1, len(train), 2)):
        plan = build_prep(schema, cls.tags.prep)
        X = plan.transformer.fit_transform(schema.coerce(train.iloc[half]))
        learner = cls(task=task, n_classes=max(len(target.classes or []), 2), params=dict(cls.test_params), seed=0)
        learner.fit(X, y[half], categorical=plan.categorical)
        folds.append(FoldModel(plan.transformer, plan.categorical, learner))
    return Model(target, schema, "metric", [Member(f"{key}_0", key, {}, 1.0, folds)], pd.DataFrame())


def new_rows(schema: Schema, *, categories: bool = True) -> pd.DataFrame:
    rows = frame(150, seed=1, categories=categories).drop(columns=TARGETS)
    if categories:
        rows.loc[::7, "line"] = "never-seen"
    rows.loc[0, ["load", "when"]] = [np.nan, pd.NaT]
    return rows


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return frame(240, seed=0)


CASES = [(key, task, cats) for key, cats in (("random_forest", True), ("extra_trees", True), ("lightgbm", True),
                                             ("linear", True), ("xgboost", True), ("catboost", True),
                                             ("hist_gradient_boosting", True))
         for task in TASKS]


@pytest.mark.parametrize(("key", "task", "categories"), CASES)
def test_the_graph_reproduces_the_model(key: str, task: str, categories: bool, train: pd.DataFrame) -> None:
    data = train if categories else train.drop(columns=["line"])
    model = one_member_model(key, task, data)
    graph = build_graph(model)
    rows = new_rows(model.schema, categories=categories)
    check = verify(model, graph, rows)  # unseen categories, gaps, dates before 1970
    assert check.rows == len(rows) and check.passed, (check.max_difference, check.where)
    assert verify(model, graph).passed  # and the reference rows the export itself is checked on
    if task != "regression":
        out = session(graph.serialize()).run(["label"], _feeds(model, rows))[0]
        np.testing.assert_array_equal(out, model.predict(rows))


def _feeds(model: Model, rows: pd.DataFrame) -> dict:
    from kiln.export.onnx import feeds

    return feeds(columns_from_frame(rows, model.schema), model.schema)


def test_members_are_blended_with_their_weights(train: pd.DataFrame) -> None:
    model = one_member_model("lightgbm", "multiclass", train)
    other = one_member_model("random_forest", "multiclass", train).members[0]
    model.members[0].weight, other.weight = 0.7, 0.3
    model.members.append(other)
    graph = build_graph(model)
    rows = new_rows(model.schema)
    np.testing.assert_allclose(run(session(graph.serialize()), model, columns_from_frame(rows, model.schema)),
                               model.predict_raw(rows), atol=1e-5)


def test_the_binary_threshold_decides_the_label(train: pd.DataFrame) -> None:
    model = one_member_model("random_forest", "binary", train)
    rows = new_rows(model.schema)
    for threshold in (0.2, 0.8):
        model.manifest = {"decision": {"threshold": threshold}}
        labels = session(build_graph(model).serialize()).run(["label"], _feeds(model, rows))[0]
        np.testing.assert_array_equal(labels, model.predict(rows))


def test_a_part_that_cannot_convert_is_refused_by_name(train: pd.DataFrame) -> None:
    with pytest.raises(ExportRefused, match=r"member 'knn_0' \(knn\) fold 0"):
        build_graph(one_member_model("knn", "binary", train))


@pytest.mark.parametrize("key", ["catboost", "xgboost", "hist_gradient_boosting"])
def test_a_categorical_too_wide_for_one_hot_is_refused_by_name(key: str, train: pd.DataFrame) -> None:
    wide = train.assign(shop=[f"shop{i % 11}" for i in range(len(train))])  # 11 levels: the booster keeps it native
    with pytest.raises(ExportRefused, match=rf"{key} learner of member '{key}_0'.*natively on .* 'shop'"):
        build_graph(one_member_model(key, "binary", wide))


def test_datetime_and_text_converters_equal_the_transformers() -> None:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import Int64TensorType, StringTensorType

    from kiln.export import converters
    from kiln.prep.transformers import DatetimeFeatures, TextStatistics

    converters.register()
    stamps = pd.DataFrame({"t": pd.to_datetime(["1969-12-31 23:59:59", "2024-02-29 06:15:00", "1900-03-01 00:00:00",
                                                "2100-12-31 23:00:00", None, "1970-01-01 00:00:00",
                                                "2000-02-29 13:30:00"])})
    dates = DatetimeFeatures().fit(stamps)
    graph = convert_sklearn(dates, initial_types=[("t", Int64TensorType([None, 1]))], target_opset={"": 21,
                                                                                                  "ai.onnx.ml": 3})
    ns = stamps["t"].to_numpy("datetime64[ns]").astype(np.int64).reshape(-1, 1)
    got = session(graph.SerializeToString()).run(None, {"t": ns})[0]
    np.testing.assert_array_equal(got, dates.transform(stamps).astype(np.float32))
    texts = pd.DataFrame({"s": ["two  words", "", "one", " lead and trail ", "tab\tand\nnewline", "é ü ß"]})
    stats = TextStatistics().fit(texts)
    graph = convert_sklearn(stats, initial_types=[("s", StringTensorType([None, 1]))], target_opset={"": 21,
                                                                                                  "ai.onnx.ml": 3})
    got = session(graph.SerializeToString()).run(None, {"s": texts.to_numpy(dtype=object)})[0]
    np.testing.assert_array_equal(got, stats.transform(texts).astype(np.float32))


def test_cli_exports_verifies_and_stores_the_graph(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tiny_models import train_tiny

    import kiln
    from kiln.bundle import verify_bundle

    bundle = train_tiny(tmp_path / "model")
    out = tmp_path / "model.onnx"
    done = CliRunner().invoke(app, ["export", str(bundle), "--format", "onnx", "--out", str(out)])
    assert done.exit_code == 0, done.output
    manifest = verify_bundle(bundle)  # model.onnx is listed with its checksum
    assert manifest["onnx"]["opset"][""] == 21 and manifest["onnx"]["max_difference"] <= 1e-5
    assert "onnxmltools" in manifest["onnx"]["converters"] or "skl2onnx" in manifest["onnx"]["converters"]
    assert (bundle / "model.onnx").read_bytes() == out.read_bytes()
    model = kiln.load(bundle)
    metadata = {p.key: p.value for p in __import__("onnx").load(str(out)).metadata_props}
    assert json.loads(metadata["kiln.classes"]) == [int(c) for c in model.classes_]
    (bundle / "model.onnx").write_bytes(b"tampered")
    with pytest.raises(kiln.errors.BundleError, match=r"model\.onnx"):
        verify_bundle(bundle)


def test_cli_refuses_an_unknown_format_in_one_line(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["export", str(tmp_path), "--format", "pmml", "--out", str(tmp_path / "x")])
    assert done.exit_code == 2
    assert done.output.strip().count("\n") == 0 and "--format onnx" in done.output
