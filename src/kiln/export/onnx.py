"""The whole predictor as one ONNX graph: preprocessing, every ensemble member, weights, classes, threshold.

    graph = build_graph(model)             # raises ExportRefused naming the part that cannot convert
    check = verify(model, graph)           # ONNX Runtime against Model.predict_raw on reference rows
    export_onnx("model/", "model.onnx")    # both, then the file and a copy stored in the bundle

Each fold model becomes two converted graphs joined edge to edge: its fitted ColumnTransformer
(skl2onnx, with kiln's own transformers converted by `converters`) and its learner
(skl2onnx for scikit-learn estimators, onnxmltools for LightGBM and XGBoost, CatBoost's own
ONNX export). Every sub-graph's names get a prefix of their own; the graph inputs are shared.
After each learner the graph does what `Learner.predict_raw` does (spread a fold that lacked a
class to all classes, clip to [0, 1], renormalise), then averages a member's folds and sums
the members with their weights, in `Model.predict_raw`'s order.

The graph's inputs are the data contract's columns, one `[N, 1]` tensor each: numbers and
booleans `float` (NaN missing); categories and text `string` (missing: the empty string);
datetimes `int64` nanoseconds since 1970-01-01 (numpy's datetime64[ns]; missing: its NaT, the
smallest int64). Its outputs are `probabilities`
(`[N, classes]`, in the classes' order) and `label` (the class as in the training data,
the stored threshold applied), or `prediction` for regression. `feeds` builds the inputs
from the decoded columns the server holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kiln.export.refusal import ExportRefused
from kiln.export.refusal import short as _short

if TYPE_CHECKING:
    import onnx
    import pandas as pd

    from kiln.data.schema import Schema
    from kiln.model import Model

OPSET = 21  # ai.onnx; StringSplit (text word counts) needs 20
ML_OPSET = 3  # ai.onnx.ml; 5 replaces the TreeEnsemble* operators every converter still writes
TOLERANCE = 1e-5  # largest |ONNX Runtime - Model.predict_raw| accepted on the reference rows
GRAPH_FILE = "model.onnx"  # its name inside a bundle
MISSING_TEXT = ""


@dataclass
class Verification:
    """ONNX Runtime against `Model.predict_raw` on the reference rows."""

    rows: int
    max_difference: float
    where: str = ""

    @property
    def passed(self) -> bool:
        return self.max_difference <= TOLERANCE


@dataclass
class Graph:
    """The converted model and what the manifest records about it."""

    model: onnx.ModelProto
    opset: dict[str, int]
    converters: dict[str, str]
    parts: list[str] = field(default_factory=list)

    def serialize(self) -> bytes:
        return self.model.SerializeToString()


# -- inputs ------------------------------------------------------------------------------------


def input_types(schema: Schema) -> list[tuple[str, Any]]:
    """skl2onnx's initial types: one `[N, 1]` tensor per contract column."""
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType

    kinds = {"numeric": FloatTensorType, "boolean": FloatTensorType, "datetime": Int64TensorType,
             "categorical": StringTensorType, "text": StringTensorType}
    return [(column.name, kinds[column.kind]([None, 1])) for column in schema.columns]


def feeds(columns: dict[str, np.ndarray], schema: Schema) -> dict[str, np.ndarray]:
    """ONNX Runtime's inputs from decoded columns (numbers float64 with NaN, categories and text
    object arrays with None, datetimes datetime64 with NaT), as the server decodes a request."""
    out = {}
    for column in schema.columns:
        values = columns[column.name]
        if column.kind in ("numeric", "boolean"):
            out[column.name] = np.asarray(values, dtype=np.float32).reshape(-1, 1)
        elif column.kind == "datetime":
            out[column.name] = np.asarray(values, dtype="datetime64[ns]").astype(np.int64).reshape(-1, 1)
        else:
            text = np.array([MISSING_TEXT if v is None else v for v in values], dtype=object)
            out[column.name] = text.reshape(-1, 1)
    return out


def columns_from_frame(frame: pd.DataFrame, schema: Schema) -> dict[str, np.ndarray]:
    """Decoded columns from a table, as the server holds them: `schema.coerce`, then missing →
    None / NaN / NaT."""
    import pandas as pd

    coerced = schema.coerce(frame)
    columns = {}
    for column in schema.columns:
        values = coerced[column.name]
        if column.kind in ("numeric", "boolean"):
            columns[column.name] = values.to_numpy(dtype=np.float64)
        elif column.kind == "datetime":
            columns[column.name] = values.to_numpy(dtype="datetime64[ns]")
        else:
            array = np.array(values.to_numpy(dtype=object), dtype=object)
            array[pd.isna(values).to_numpy()] = None
            columns[column.name] = array
    return columns


# -- building ------------------------------------------------------------------------------------


def build_graph(model: Model) -> Graph:
    """One ONNX graph computing `model.predict_raw` and its labels; `ExportRefused` names the
    first part that cannot be converted."""
    import onnx
    from onnx import TensorProto, helper

    from kiln.export import converters
    from kiln.export.learners import convert_learner

    converters.register()
    schema = model.schema
    inputs = input_types(schema)
    n_classes = len(model.classes_ or []) if model.task != "regression" else 0
    b = _Builder()
    versions: dict[str, str] = {}
    member_outputs = []
    for m, member in enumerate(model.members):
        fold_outputs = []
        for k, fold in enumerate(member.folds):
            part = f"member '{member.name}' ({member.learner}) fold {k}"
            prep, used = _convert_prep(fold.prep, inputs, part)
            # skl2onnx renames inputs ("mean radius" → "mean_radius"): bind them to the contract's names
            names = {i.name: column for i, column in zip(prep.graph.input, used, strict=True)}
            features = b.inline(prep, f"m{m}f{k}p_", names, part=f"the preprocessing of {part}")
            n_features = _feature_width(prep, part)
            converted = convert_learner(member.learner, fold.learner, n_features, part, opset=OPSET,
                                        ml_opset=ML_OPSET, feature_names=_feature_names(fold.prep))
            versions.update(converted.versions)
            out = b.inline(converted.model, f"m{m}f{k}l_", {converted.model.graph.input[0].name: features},
                           keep=converted.output, part=f"the {member.learner} learner of {part}")
            fold_outputs.append(_finish_fold(b, out, fold.learner, n_classes))
        mean = fold_outputs[0] if len(fold_outputs) == 1 else b.node(
            "Mul", [b.node("Sum", fold_outputs), b.const(1.0 / len(fold_outputs))])
        member_outputs.append(b.node("Mul", [mean, b.const(float(member.weight))]))
    total = member_outputs[0] if len(member_outputs) == 1 else b.node("Sum", member_outputs)
    graph_inputs = [helper.make_tensor_value_info(name, _elem(kind), [None, 1]) for name, kind in inputs]
    if model.task == "regression":
        b.node("Identity", [total], name="prediction")
        outputs = [helper.make_tensor_value_info("prediction", TensorProto.FLOAT, [None])]
    else:
        b.node("Identity", [total], name="probabilities")
        outputs = [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, n_classes]),
                   _label_output(b, model)]
    b.prune([o.name for o in outputs])
    graph = helper.make_graph(b.nodes, "kiln", graph_inputs, outputs, initializer=b.initializers)
    opsets = {"": OPSET, "ai.onnx.ml": ML_OPSET, **{d: v for d, v in b.domains.items() if d not in ("", "ai.onnx.ml")}}
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()],
                              producer_name="kiln", ir_version=10)
    metadata = {"kiln.task": model.task, "kiln.target": model.target.name,
                "kiln.classes": json.dumps([_plain(c) for c in model.classes_ or []]),
                "kiln.threshold": json.dumps(model.threshold), "kiln.inputs": json.dumps(
                    {c.name: c.kind for c in schema.columns}),
                "kiln.encoding": "numbers float (NaN missing); categories and text string (missing ''); "
                                 "datetimes int64 nanoseconds since 1970-01-01 (missing: -2**63, numpy's NaT)"}
    for key, value in metadata.items():
        proto.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(proto)
    import skl2onnx

    versions = {"onnx": onnx.__version__, "skl2onnx": skl2onnx.__version__, **versions}
    return Graph(proto, opsets, versions)


def _elem(kind: Any) -> int:
    from onnx import TensorProto

    name = type(kind).__name__
    return {"FloatTensorType": TensorProto.FLOAT, "Int64TensorType": TensorProto.INT64,
            "StringTensorType": TensorProto.STRING}[name]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _convert_prep(prep: Any, inputs: list[tuple[str, Any]], part: str) -> tuple[onnx.ModelProto, list[str]]:
    from skl2onnx import convert_sklearn

    used = {name for _, _, cols in prep.transformers_ if isinstance(cols, list | tuple | np.ndarray) for name in cols}
    types = [(name, kind) for name, kind in inputs if name in used]
    try:
        converted = convert_sklearn(prep, initial_types=types, target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET})
    except Exception as exc:
        text = str(exc)
        for name, step, columns in prep.transformers_:
            inner = [step, *(getattr(step, "named_steps", {}) or {}).values()]
            culprit = next((type(s).__name__ for s in inner if type(s).__name__ in text
                            or type(s).__name__.replace("Vectorizer", "") in text), None)
            if culprit is not None:
                raise ExportRefused(f"The preprocessing step '{name}' ({culprit} on {list(columns)}) of {part} cannot "
                                    f"be converted to ONNX ({_short(exc)[:160]}); serve the bundle through "
                                    "Model.predict_raw.") from exc
        steps = ", ".join(f"{name} ({type(step).__name__})" for name, step, _ in prep.transformers_)
        raise ExportRefused(f"The preprocessing of {part} [{steps}] cannot be converted to ONNX by skl2onnx "
                            f"({_short(exc)}); serve it through Model.predict_raw.") from exc
    if len(converted.graph.input) != len(types):
        raise ExportRefused(f"The preprocessing of {part} converts to a graph with other inputs than its columns; "
                            "serve it through Model.predict_raw.")
    return converted, [name for name, _ in types]


def _feature_names(prep: Any) -> list[str] | None:
    """The prep's output columns, to name a feature in a refusal (None where a step has no names)."""
    try:
        return [str(name) for name in prep.get_feature_names_out()]
    except Exception:
        return None


def _feature_width(prep: onnx.ModelProto, part: str) -> int:
    dims = prep.graph.output[0].type.tensor_type.shape.dim
    if len(dims) != 2 or not dims[1].dim_value:
        raise ExportRefused(f"The preprocessing of {part} converts to a graph without a fixed feature count; "
                            "serve it through Model.predict_raw.")
    return int(dims[1].dim_value)


def _finish_fold(b: _Builder, out: str, learner: Any, n_classes: int) -> str:
    """`Learner.predict_raw`'s tail: values as [N]; probabilities spread to every class, clipped, renormalised."""
    if n_classes == 0:
        return b.node("Reshape", [b.node("Cast", [out], to=1), b.const(np.array([-1], np.int64))])
    probabilities = b.node("Cast", [out], to=1)
    seen = [int(c) for c in (learner.classes_seen_ if learner.classes_seen_ is not None else range(n_classes))]
    if seen != list(range(n_classes)):
        spread = np.zeros((len(seen), n_classes), dtype=np.float32)
        spread[np.arange(len(seen)), seen] = 1.0
        probabilities = b.node("MatMul", [probabilities, b.const(spread)])
    clipped = b.node("Clip", [probabilities, b.const(np.float32(0.0)), b.const(np.float32(1.0))])
    total = b.node("ReduceSum", [clipped, b.const(np.array([1], np.int64))], keepdims=1)
    return b.node("Div", [clipped, b.node("Max", [total, b.const(np.float32(1e-12))])])


def _label_output(b: _Builder, model: Model) -> Any:
    """The class as in the data: the stored threshold for binary tasks, the most probable class otherwise."""
    from onnx import TensorProto, helper

    if model.task == "binary" and model.threshold is not None:
        positive = b.node("Gather", ["probabilities", b.const(np.array(1, np.int64))], axis=1)
        index = b.node("Cast", [b.node("GreaterOrEqual", [positive, b.const(np.float32(model.threshold))])],
                       to=TensorProto.INT64)
    else:
        index = b.node("ArgMax", ["probabilities"], axis=1, keepdims=0)
    classes = [_plain(c) for c in model.classes_ or []]
    if all(isinstance(c, int | np.integer) and not isinstance(c, bool) for c in classes):
        table, elem = np.array(classes, dtype=np.int64), TensorProto.INT64
    elif all(isinstance(c, float) for c in classes):
        table, elem = np.array(classes, dtype=np.float64), TensorProto.DOUBLE
    else:
        table, elem = np.array([str(c) for c in classes], dtype=object), TensorProto.STRING
    b.node("Gather", [b.const(table), index], axis=0, name="label")
    return helper.make_tensor_value_info("label", elem, [None])


class _Builder:
    """Nodes and initializers of the joined graph, with sub-graphs inlined under a prefix."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.domains: dict[str, int] = {}
        self._count = 0

    def _name(self, stem: str) -> str:
        self._count += 1
        return f"kiln_{stem}_{self._count}"

    def const(self, value: Any) -> str:
        from onnx import numpy_helper

        name = self._name("const")
        array = np.asarray(value, dtype=np.float32) if isinstance(value, float) else np.asarray(value)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], *, name: str | None = None, **attrs: Any) -> str:
        from onnx import helper

        output = name or self._name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [output], name=self._name(op), **attrs))
        return output

    def prune(self, outputs: list[str]) -> None:
        """Drop nodes and initializers no output needs (the converters' own label outputs)."""
        needed, kept = set(outputs), []
        for node in reversed(self.nodes):
            if any(out in needed for out in node.output):
                kept.append(node)
                needed.update(e for e in node.input if e)
        self.nodes = kept[::-1]
        self.initializers = [t for t in self.initializers if t.name in needed]

    def inline(self, model: onnx.ModelProto, prefix: str, bind: dict[str, str], *, keep: str | None = None,
               part: str = "a converted part") -> str:
        """Copy `model`'s graph in under `prefix`; its inputs named in `bind` read those edges, the
        others the shared graph inputs of the same name. Returns the name of its output `keep`
        (default: the first)."""
        from onnx import helper

        graph = model.graph
        inputs = {i.name for i in graph.input}
        for opset in model.opset_import:
            domain = opset.domain or ""
            if domain in ("ai.onnx.ml",) and opset.version > ML_OPSET:
                raise ExportRefused(f"The ONNX graph of {part} needs ai.onnx.ml opset {opset.version}; kiln "
                                    f"writes {ML_OPSET}: serve the bundle through Model.predict_raw.")
            if domain not in ("", "ai.onnx.ml"):
                self.domains[domain] = max(self.domains.get(domain, 1), opset.version)

        def rename(edge: str) -> str:
            if not edge:
                return edge
            if edge in bind:
                return bind[edge]
            return edge if edge in inputs else prefix + edge

        for tensor in graph.initializer:
            copy = type(tensor)()
            copy.CopyFrom(tensor)
            copy.name = prefix + tensor.name
            self.initializers.append(copy)
        for node in graph.node:
            if any(attr.type in (5, 10) for attr in node.attribute):  # GRAPH / GRAPHS: sub-graphs
                raise ExportRefused(f"The ONNX graph of {part} uses the control-flow operator {node.op_type} "
                                    "(sub-graphs), which kiln does not join into one graph: serve the bundle through "
                                    "Model.predict_raw, or train without that family.")
            copy = helper.make_node(node.op_type, [rename(e) for e in node.input], [rename(e) for e in node.output],
                                    name=self._name(prefix + (node.name or node.op_type)), domain=node.domain or None)
            copy.attribute.extend(node.attribute)
            self.nodes.append(copy)
        output = keep or graph.output[0].name
        return rename(output)


# -- verifying -----------------------------------------------------------------------------------


def session(serialized: bytes, *, threads: int = 1) -> Any:
    """One ONNX Runtime session on the calling thread's core (`threads` intra-op threads, no inter-op pool)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return ort.InferenceSession(serialized, options, providers=["CPUExecutionProvider"])


def run(sess: Any, model: Model, columns: dict[str, np.ndarray]) -> np.ndarray:
    """The graph's `probabilities` (or `prediction`) as float64, the shape `Model.predict_raw` returns."""
    name = "prediction" if model.task == "regression" else "probabilities"
    return np.asarray(sess.run([name], feeds(columns, model.schema))[0], dtype=np.float64)


def reference_rows(model: Model) -> pd.DataFrame:
    """The rows an export is checked on: the bundle's reference sample of training rows, plus
    synthetic rows at the corners of the contract (missing, unseen, out-of-range values)."""
    import pandas as pd

    from kiln.export.synthetic import synthetic_columns

    synthetic = pd.DataFrame(synthetic_columns(model.schema))
    if model.reference is None:
        return synthetic
    names = [c.name for c in model.schema.columns if c.name in model.reference.columns]
    return pd.concat([model.reference[names], synthetic], ignore_index=True)


def verify(model: Model, graph: Graph, rows: pd.DataFrame | None = None) -> Verification:
    """Largest |ONNX Runtime − Model.predict_raw| over `rows` (default `reference_rows`); for
    regression, relative to the size of the values (float32 holds about seven digits)."""
    rows = reference_rows(model) if rows is None else rows
    kept = model.last_contract_report_
    try:
        expected = model.predict_raw(rows)
    finally:
        model.last_contract_report_ = kept
    got = run(session(graph.serialize()), model, columns_from_frame(rows, model.schema))
    if got.shape != expected.shape:
        return Verification(len(rows), float("inf"), f"shape {got.shape} instead of {expected.shape}")
    difference = np.abs(got - expected)
    if model.task == "regression":
        difference = difference / np.maximum(1.0, np.abs(expected))
    if np.isnan(difference).any():
        return Verification(len(rows), float("inf"), "NaN where Model.predict_raw has a number")
    flat = int(np.argmax(difference))
    row = np.unravel_index(flat, difference.shape)[0]
    return Verification(len(rows), float(difference.max(initial=0.0)), f"row {int(row)}")


def convert_and_verify(model: Model) -> tuple[Graph, Verification]:
    """The graph, if it reproduces the model on the reference rows; else `ExportRefused` with the
    largest difference."""
    graph = build_graph(model)
    check = verify(model, graph)
    if not check.passed:
        raise ExportRefused(f"The ONNX graph differs from Model.predict_raw by up to {check.max_difference:.3g} "
                            f"({check.where} of {check.rows} reference rows; the limit is {TOLERANCE:g}); the export "
                            "is refused: serve the bundle through Model.predict_raw.")
    return graph, check


# -- the command ---------------------------------------------------------------------------------


@dataclass
class ExportResult:
    out: Path
    stored_in: Path | None
    check: Verification
    graph: Graph
    size_bytes: int


def export_onnx(source: str | Path, out: str | Path, *, store: bool = True) -> ExportResult:
    """Convert and verify the model at `source`, write the graph to `out`, and (for a bundle
    folder, with `store`) keep it in the bundle as `model.onnx`, with its opset, converter
    versions and check in the manifest's `onnx` field. Nothing is written when it is refused."""
    from kiln.bundle import add_to_bundle, load_bundle
    from kiln.data.write import write_bytes

    source_text = str(source)
    if source_text.startswith("models:/"):
        from kiln.store.registry import resolve

        resolved = resolve(source_text)
        model, folder = load_bundle(resolved.path, manifest_sha256=resolved.manifest_sha256), None
    else:
        folder = Path(source)
        model = load_bundle(folder)
    graph, check = convert_and_verify(model)
    content = graph.serialize()
    out_path = write_bytes(content, Path(out))
    stored = None
    if store and folder is not None:
        fields = {"onnx": {"file": GRAPH_FILE, "opset": graph.opset, "converters": graph.converters,
                           "verified_rows": check.rows, "max_difference": check.max_difference,
                           "tolerance": TOLERANCE}}
        stored = add_to_bundle(folder, {GRAPH_FILE: content}, fields)
    return ExportResult(out_path, stored, check, graph, len(content))
