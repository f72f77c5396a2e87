"""One fitted learner → an ONNX graph over its encoded features (`input`, float `[N, n_features]`).

scikit-learn estimators go through skl2onnx, LightGBM and XGBoost boosters through onnxmltools,
CatBoost through its own `save_model(format="onnx")`. A learner a converter refuses is an
`ExportRefused` naming the member, the fold and the converter's reason.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln.errors import KilnError
from kiln.export.refusal import ExportRefused, short

MLTOOLS_OPSET = 15  # the highest opset onnxmltools 1.16 writes; its operators mean the same at 21


@dataclass
class Converted:
    model: Any  # onnx.ModelProto
    output: str  # the output holding probabilities (classification) or values
    versions: dict[str, str]


def convert_learner(key: str, learner: Any, n_features: int, part: str, *, opset: int, ml_opset: int) -> Converted:
    """Convert `learner` (a kiln learner of family `key`)."""
    convert = {"lightgbm": _lightgbm, "xgboost": _xgboost, "catboost": _catboost}.get(key, _sklearn)
    try:
        return convert(learner, n_features, opset, ml_opset)
    except KilnError:
        raise
    except Exception as exc:
        raise ExportRefused(f"The {key} learner of {part} cannot be converted to ONNX ({short(exc)}); serve the "
                            "bundle through Model.predict_raw, or train without that family.") from exc


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
    model = convert_sklearn(estimator, initial_types=_types(n_features), options=options,
                            target_opset={"": opset, "ai.onnx.ml": ml_opset})
    if hasattr(estimator, "estimators_") and hasattr(estimator.estimators_[0], "tree_"):
        _route_missing(model, estimator)
    names = [o.name for o in model.graph.output]
    return Converted(model, "probabilities" if classifier else names[0], {"skl2onnx": skl2onnx.__version__})


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

    if learner.categorical_:
        raise ValueError("its trees split on categories natively, which onnxmltools' XGBoost converter does not "
                         "support")
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

    if learner.categorical_:
        raise ValueError("it uses categorical features, which CatBoost's ONNX export does not support")
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
