"""One fitted learner → an ONNX graph over its encoded features (`input`, float `[N, n_features]`).

scikit-learn estimators go through skl2onnx, LightGBM and XGBoost boosters through onnxmltools,
CatBoost through its own `save_model(format="onnx")`. A learner a converter refuses is an
`ExportRefused` naming the member, the fold and the converter's reason.

CatBoost, XGBoost and HistGradientBoosting get their small categorical columns one-hot
(`kiln.learners.onehot`): their graph is converted over the widened features and preceded by
the same columns written in ONNX (`_prepend_onehot`). One that still splits natively on a
categorical column (more levels than one-hot takes) is refused by naming the column.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kiln.errors import KilnError
from kiln.export.refusal import ExportRefused, short
from kiln.learners.onehot import MAX_LEVELS, OneHotCodes

MLTOOLS_OPSET = 15  # the highest opset onnxmltools 1.16 writes; its operators mean the same at 21


@dataclass
class Converted:
    model: Any  # onnx.ModelProto
    output: str  # the output holding probabilities (classification) or values
    versions: dict[str, str]


def convert_learner(key: str, learner: Any, n_features: int, part: str, *, opset: int, ml_opset: int,
                    feature_names: list[str] | None = None) -> Converted:
    """Convert `learner` (a kiln learner of family `key`); `feature_names` (the prep's output
    columns) name a categorical column the converter cannot express."""
    convert = {"lightgbm": _lightgbm, "xgboost": _xgboost, "catboost": _catboost}.get(key, _sklearn)
    onehot: OneHotCodes | None = getattr(learner, "onehot_", None)
    try:
        native = _native_categorical(key, learner)
        if native:
            names = [feature_names[i] if feature_names and i < len(feature_names) else f"feature {i}" for i in native]
            raise ValueError(f"it splits natively on the categorical column(s) {', '.join(map(repr, names))} (more "
                             f"than {MAX_LEVELS} levels, so not one-hot), which its ONNX converter does not support")
        if onehot is None or not onehot.columns:
            return convert(learner, n_features, opset, ml_opset)
        converted = convert(learner, n_features + onehot.width, opset, ml_opset)
        _prepend_onehot(converted.model, onehot, n_features)
        return converted
    except KilnError:
        raise
    except Exception as exc:
        raise ExportRefused(f"The {key} learner of {part} cannot be converted to ONNX ({short(exc)}); serve the "
                            "bundle through Model.predict_raw, or train without that family.") from exc


def _native_categorical(key: str, learner: Any) -> list[int]:
    """Feature positions the learner still treats as categories (too many levels for one-hot, or
    a bundle saved before one-hot existed)."""
    if key in ("xgboost", "catboost"):
        return list(learner.categorical_)
    mask = getattr(getattr(learner, "estimator_", None), "is_categorical_", None)
    return [] if mask is None else [int(i) for i in np.flatnonzero(mask)]


def _prepend_onehot(model: Any, onehot: OneHotCodes, n_features: int) -> None:
    """Make `model` read the `n_features` prep columns and widen them itself, as
    `OneHotCodes.transform`: one `Equal` against each column's levels (NaN matches none)."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    outer = graph.input[0].name
    inner = "kiln_onehot_features"
    for node in graph.node:
        node.input[:] = [inner if edge == outer else edge for edge in node.input]
    nodes, parts = [], [outer]
    for i, levels in onehot.columns:
        index, table = f"kiln_onehot_index_{i}", f"kiln_onehot_levels_{i}"
        graph.initializer.extend([numpy_helper.from_array(np.array([i], np.int64), index),
                                  numpy_helper.from_array(np.array([levels], np.float32), table)])
        column, hits, flags = f"kiln_onehot_column_{i}", f"kiln_onehot_hits_{i}", f"kiln_onehot_flags_{i}"
        nodes += [helper.make_node("Gather", [outer, index], [column], axis=1),
                  helper.make_node("Equal", [column, table], [hits]),
                  helper.make_node("Cast", [hits], [flags], to=TensorProto.FLOAT)]
        parts.append(flags)
    nodes.append(helper.make_node("Concat", parts, [inner], axis=1))
    existing = list(graph.node)
    del graph.node[:]
    graph.node.extend([*nodes, *existing])
    graph.input[0].type.tensor_type.shape.dim[1].dim_value = n_features


def _types(n_features: int) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import FloatTensorType

    return [("input", FloatTensorType([None, n_features]))]


def _mltools_types(n_features: int) -> list[tuple[str, Any]]:
    from onnxmltools.convert.common.data_types import FloatTensorType

    return [("input", FloatTensorType([None, n_features]))]


def _sklearn(learner: Any, n_features: int, opset: int, ml_opset: int) -> Converted:
    import skl2onnx
    from skl2onnx import convert_sklearn

    estimator = learner.estimator_
    classifier = learner.is_classifier
    options = {id(estimator): {"zipmap": False}} if classifier else None
    with _missing_flags_as_ints():
        model = convert_sklearn(estimator, initial_types=_types(n_features), options=options,
                                target_opset={"": opset, "ai.onnx.ml": ml_opset})
    if hasattr(estimator, "estimators_") and hasattr(estimator.estimators_[0], "tree_"):
        _route_missing(model, estimator)
    names = [o.name for o in model.graph.output]
    return Converted(model, "probabilities" if classifier else names[0], {"skl2onnx": skl2onnx.__version__})


@contextmanager
def _missing_flags_as_ints() -> Iterator[None]:
    """skl2onnx 1.20 hands HistGradientBoosting's `missing_go_to_left` to the node list as given
    (numpy integers, and Python `False` at leaves), and onnx refuses a bool among an attribute's
    ints: while converting, its `add_node` gets the flag as an int."""
    from skl2onnx.common import tree_ensemble

    original = tree_ensemble.add_node

    def add_node(*args: Any, nodes_missing_value_tracks_true: Any = 0, **kwargs: Any) -> Any:
        return original(*args, nodes_missing_value_tracks_true=int(nodes_missing_value_tracks_true), **kwargs)

    tree_ensemble.add_node = add_node
    try:
        yield
    finally:
        tree_ensemble.add_node = original


def _route_missing(model: Any, forest: Any) -> None:
    """Send NaN down the side each scikit-learn split learned (`missing_go_to_left`), which
    skl2onnx leaves out: ONNX's `nodes_missing_value_tracks_true` (the true branch is `<=`, left)."""
    from onnx import helper

    for node in model.graph.node:
        if not node.op_type.startswith("TreeEnsemble"):
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        tracks = [int(forest.estimators_[t].tree_.missing_go_to_left[n])
                  for t, n in zip(attrs["nodes_treeids"], attrs["nodes_nodeids"], strict=True)]
        kept = [a for a in node.attribute if a.name != "nodes_missing_value_tracks_true"]
        del node.attribute[:]
        node.attribute.extend([*kept, helper.make_attribute("nodes_missing_value_tracks_true", tracks)])


def _lightgbm(learner: Any, n_features: int, opset: int, ml_opset: int) -> Converted:
    import lightgbm as lgb
    import onnxmltools

    booster = learner.booster_
    best = booster.best_iteration
    if best and best > 0:  # the rounds early stopping kept, as predict_raw uses them
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    model = onnxmltools.convert_lightgbm(booster, initial_types=_mltools_types(n_features), zipmap=False,
                                         target_opset=min(opset, MLTOOLS_OPSET))
    names = [o.name for o in model.graph.output]
    output = "probabilities" if learner.is_classifier else names[0]
    return Converted(model, output, {"onnxmltools": onnxmltools.__version__})


def _xgboost(learner: Any, n_features: int, opset: int, ml_opset: int) -> Converted:
    import onnxmltools

    start, stop = learner._best_range()
    booster = learner.booster_[start:stop]
    model = onnxmltools.convert_xgboost(booster, initial_types=_mltools_types(n_features),
                                        target_opset=min(opset, MLTOOLS_OPSET))
    names = [o.name for o in model.graph.output]
    output = "probabilities" if learner.is_classifier else names[0]
    return Converted(model, output, {"onnxmltools": onnxmltools.__version__})


def _catboost(learner: Any, n_features: int, opset: int, ml_opset: int) -> Converted:
    import catboost
    import onnx

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "catboost.onnx"
        learner.model_.save_model(str(path), format="onnx")
        model = onnx.load(str(path))
    names = [o.name for o in model.graph.output]
    output = "probabilities" if learner.is_classifier else names[0]
    if output not in names:
        raise ValueError(f"its ONNX graph has outputs {names}, not 'probabilities'")
    for node in model.graph.node:  # CatBoost maps probabilities to {class: p} (ZipMap): take its tensor
        if node.op_type == "ZipMap" and output in node.output:
            output = node.input[0]
    return Converted(model, output, {"catboost": catboost.__version__})
