"""skl2onnx converters for kiln's own transformers (kiln.prep.transformers), in standard ONNX ops.

- `DatetimeFeatures`: the input is int64 nanoseconds since 1970-01-01 (numpy's datetime64[ns];
  missing is its NaT, the smallest int64); whole days and the hour are split off in int64, then
  year, month, day and day of week come from Howard Hinnant's `civil_from_days`, integer
  arithmetic done exactly in doubles; a missing stamp gives NaN, as pandas gives for NaT.
- `TextStatistics`: character and word counts from ONNX Runtime's `Tokenizer` (`com.microsoft`,
  the domain skl2onnx's TF-IDF also needs): one token per character, and one per run of
  non-whitespace (Python's `str.split()` on ASCII whitespace; Unicode spaces such as U+00A0 are
  not separators here). Missing text is the empty string.
- `TextColumn`: a reshape of the one string column to 1-D, as TfidfVectorizer takes it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SECONDS_PER_DAY = 86_400.0
PAD = "\x01kiln-pad\x01"  # Tokenizer's padding: longer than one character, so never a real token
WORD = "[^ \\t\\n\\r\\f\\v]+"  # a run of anything but ASCII whitespace: str.split()'s words in ASCII text


def register() -> None:
    """Tell skl2onnx how to convert kiln's transformers (idempotent)."""
    from skl2onnx import update_registered_converter

    from kiln.prep.transformers import DatetimeFeatures, TextColumn, TextStatistics

    update_registered_converter(DatetimeFeatures, "KilnDatetimeFeatures", _datetime_shape, _convert_datetime)
    update_registered_converter(TextStatistics, "KilnTextStatistics", _text_stats_shape, _convert_text_stats)
    update_registered_converter(TextColumn, "KilnTextColumn", _text_column_shape, _convert_text_column)
    from sklearn.impute import SimpleImputer

    update_registered_converter(SimpleImputer, "SklearnSimpleImputer", _imputer_shape, _convert_imputer)
    from sklearn.preprocessing import OneHotEncoder

    update_registered_converter(OneHotEncoder, "SklearnOneHotEncoder", _onehot_shape, _convert_onehot)


def _width(operator: Any) -> int:
    return sum(var.type.shape[1] for var in operator.inputs)


def _datetime_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    n = operator.inputs[0].type.shape[0]
    operator.outputs[0].type = FloatTensorType([n, 5 * _width(operator)])


def _text_stats_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    n = operator.inputs[0].type.shape[0]
    operator.outputs[0].type = FloatTensorType([n, 2 * _width(operator)])


def _text_column_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import StringTensorType

    operator.outputs[0].type = StringTensorType([operator.inputs[0].type.shape[0]])


class _Graph:
    """A few helpers over skl2onnx's container: constants and one-output nodes with fresh names."""

    def __init__(self, scope: Any, container: Any) -> None:
        self.scope, self.container = scope, container

    def const(self, value: Any, dtype: Any = np.float64) -> str:
        from onnx import numpy_helper

        name = self.scope.get_unique_variable_name("kiln_const")
        self.container.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(self, op: str, inputs: list[str], *, domain: str = "", version: int | None = None,
             outputs: int = 1, **attrs: Any) -> Any:
        names = [self.scope.get_unique_variable_name(f"kiln_{op.lower()}") for _ in range(outputs)]
        kwargs: dict[str, Any] = {"op_domain": domain} if domain else {}
        if version is not None:
            kwargs["op_version"] = version
        self.container.add_node(op, inputs, names, name=self.scope.get_unique_operator_name(f"Kiln{op}"),
                                 **kwargs, **attrs)
        return names[0] if outputs == 1 else names

    def floor_div(self, a: str, b: float) -> str:
        return self.node("Floor", [self.node("Div", [a, self.const(b)])])

    def mod(self, a: str, b: float) -> str:  # Python's floor modulo
        return self.node("Sub", [a, self.node("Mul", [self.floor_div(a, b), self.const(b)])])


def _concat_inputs(graph: _Graph, operator: Any) -> str:
    names = [var.onnx_name for var in operator.inputs]
    return names[0] if len(names) == 1 else graph.node("Concat", names, axis=1)


def _convert_datetime(scope: Any, operator: Any, container: Any) -> None:
    """Seconds since the epoch → year, month, day, day of week (Monday 0), hour; per column."""
    from onnx import TensorProto

    g = _Graph(scope, container)
    ns = _concat_inputs(g, operator)  # int64 nanoseconds, NaT = INT64_MIN (numpy's datetime64[ns])
    missing = g.node("Equal", [ns, g.const(np.iinfo(np.int64).min, np.int64)])
    ns_per_day = g.const(86_400 * 10**9, np.int64)
    time_of_day = g.node("Mod", [ns, ns_per_day], fmod=0)  # integer Mod takes the divisor's sign: ≥ 0
    whole_days = g.node("Div", [g.node("Sub", [ns, time_of_day]), ns_per_day])  # exact in int64
    days = g.node("Cast", [whole_days], to=TensorProto.DOUBLE)
    hour = g.node("Cast", [g.node("Div", [time_of_day, g.const(3_600 * 10**9, np.int64)])], to=TensorProto.DOUBLE)
    day_of_week = g.mod(g.node("Add", [days, g.const(3.0)]), 7.0)  # 1970-01-01 was a Thursday
    z = g.node("Add", [days, g.const(719_468.0)])
    era = g.floor_div(z, 146_097.0)
    doe = g.node("Sub", [z, g.node("Mul", [era, g.const(146_097.0)])])
    yoe = g.floor_div(g.node("Sub", [g.node("Add", [g.node("Sub", [doe, g.floor_div(doe, 1460.0)]),
                                                    g.floor_div(doe, 36_524.0)]),
                                     g.floor_div(doe, 146_096.0)]), 365.0)
    doy = g.node("Sub", [doe, g.node("Sub", [g.node("Add", [g.node("Mul", [yoe, g.const(365.0)]),
                                                            g.floor_div(yoe, 4.0)]),
                                             g.floor_div(yoe, 100.0)])])
    mp = g.floor_div(g.node("Add", [g.node("Mul", [doy, g.const(5.0)]), g.const(2.0)]), 153.0)
    day = g.node("Add", [g.node("Sub", [doy, g.floor_div(g.node("Add", [g.node("Mul", [mp, g.const(153.0)]),
                                                                         g.const(2.0)]), 5.0)]), g.const(1.0)])
    past_february = g.node("Cast", [g.node("Greater", [mp, g.const(9.0)])], to=TensorProto.DOUBLE)
    month = g.node("Sub", [g.node("Add", [mp, g.const(3.0)]), g.node("Mul", [past_february, g.const(12.0)])])
    year = g.node("Add", [g.node("Add", [yoe, g.node("Mul", [era, g.const(400.0)])]), past_february])
    parts = [year, month, day, day_of_week, hour]  # DATETIME_PARTS' order, column by column
    columns = []
    for i in range(_width(operator)):
        index = g.const([i], np.int64)
        columns += [g.node("Gather", [part, index], axis=1) for part in parts]
    joined = columns[0] if len(columns) == 1 else g.node("Concat", columns, axis=1)
    gaps = _repeat_each(g, missing, 5)
    values = g.node("Where", [gaps, g.const(np.float64(np.nan), np.float64), joined])
    container.add_node("Cast", [values], [operator.outputs[0].full_name], to=TensorProto.FLOAT,
                       name=scope.get_unique_operator_name("KilnDatetimeOut"))


def _repeat_each(g: _Graph, flags: str, times: int) -> str:
    """[N, k] → [N, k·times], each column repeated `times` times in place."""
    n_columns = g.node("Unsqueeze", [flags, g.const([2], np.int64)])
    tiled = g.node("Expand", [n_columns, g.const([1, 1, times], np.int64)])
    return g.node("Reshape", [tiled, g.const([0, -1], np.int64)])


def _convert_text_stats(scope: Any, operator: Any, container: Any) -> None:
    """Characters and words of each text column ("" for missing text), as float."""
    from onnx import TensorProto

    g = _Graph(scope, container)
    text = _concat_inputs(g, operator)
    columns = []
    for i in range(_width(operator)):
        column = g.node("Gather", [text, g.const([i], np.int64)], axis=1)  # [N, 1]
        flat = g.node("Reshape", [column, g.const([-1], np.int64)])
        for pattern in ("(?s:.)", WORD):  # characters, then words
            tokens = g.node("Tokenizer", [flat], domain="com.microsoft", version=1, mark=0, mincharnum=1,
                            pad_value=PAD, tokenexp=pattern)
            real = g.node("Not", [g.node("Equal", [tokens, g.const(PAD, object)])])
            count = g.node("ReduceSum", [g.node("Cast", [real], to=TensorProto.FLOAT), g.const([-1], np.int64)],
                           keepdims=0)
            columns.append(g.node("Reshape", [count, g.const([-1, 1], np.int64)]))
    container.add_node("Concat", columns, [operator.outputs[0].full_name], axis=1,
                       name=scope.get_unique_operator_name("KilnTextStatsOut"))


def _convert_text_column(scope: Any, operator: Any, container: Any) -> None:
    g = _Graph(scope, container)
    container.add_node("Reshape", [operator.inputs[0].onnx_name, g.const([-1], np.int64)],
                       [operator.outputs[0].full_name], name=scope.get_unique_operator_name("KilnTextColumn"))


def _imputer_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    imputer = operator.raw_operator
    n = operator.inputs[0].type.shape[0]
    width = len(imputer.statistics_) if imputer.keep_empty_features else int(np.sum(~_empty(imputer)))
    if isinstance(operator.inputs[0].type, StringTensorType):
        operator.outputs[0].type = StringTensorType([n, width])
        return
    extra = len(imputer.indicator_.features_) if imputer.add_indicator else 0
    operator.outputs[0].type = FloatTensorType([n, width + extra])


def _empty(imputer: Any) -> np.ndarray:
    statistics = imputer.statistics_
    if statistics.dtype == object:
        return np.array([s is None for s in statistics])
    return np.isnan(statistics.astype(np.float64))


def _convert_imputer(scope: Any, operator: Any, container: Any) -> None:
    """SimpleImputer as kiln fits it: numbers (NaN → the statistic, with missing indicators for the
    columns that had gaps in training) and categories ('' → the constant)."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import StringTensorType

    imputer = operator.raw_operator
    g = _Graph(scope, container)
    x = _concat_inputs(g, operator)
    out = operator.outputs[0].full_name
    if isinstance(operator.inputs[0].type, StringTensorType):
        fill = np.array([[str(v) for v in imputer.statistics_]], dtype=object)
        missing = g.node("Equal", [x, g.const("", object)])
        container.add_node("Where", [missing, g.const(fill, object), x], [out],
                           name=scope.get_unique_operator_name("KilnImputeText"))
        return
    x = g.node("Cast", [x], to=TensorProto.FLOAT)
    statistics = imputer.statistics_.astype(np.float32)
    keep = np.arange(len(statistics)) if imputer.keep_empty_features else np.where(~_empty(imputer))[0]
    fill = np.where(np.isnan(statistics), np.float32(0.0), statistics)  # keep_empty_features fills 0
    is_nan = g.node("IsNaN", [x])
    filled = g.node("Where", [is_nan, g.const(fill[None, :], np.float32), x])
    parts = [g.node("Gather", [filled, g.const(keep, np.int64)], axis=1)]
    if imputer.add_indicator and len(imputer.indicator_.features_):
        flags = g.node("Gather", [is_nan, g.const(imputer.indicator_.features_.astype(np.int64), np.int64)], axis=1)
        parts.append(g.node("Cast", [flags], to=TensorProto.FLOAT))
    container.add_node("Concat", parts, [out], axis=1, name=scope.get_unique_operator_name("KilnImpute"))


def _onehot_levels(encoder: Any) -> list[tuple[list[str], bool]]:
    """Per column: the frequent categories in output order, and whether an "infrequent" column follows."""
    levels = []
    infrequent = getattr(encoder, "infrequent_categories_", None) or [None] * len(encoder.categories_)
    for categories, rare in zip(encoder.categories_, infrequent, strict=True):
        rare_set = set() if rare is None else {str(v) for v in rare}
        levels.append(([str(v) for v in categories if str(v) not in rare_set], bool(rare_set)))
    return levels


def _onehot_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    encoder = operator.raw_operator
    if encoder.drop is not None or encoder.handle_unknown not in ("ignore", "infrequent_if_exist"):
        raise NotImplementedError("kiln converts OneHotEncoder without drop, ignoring or grouping unknown levels")
    width = sum(len(frequent) + int(rare) for frequent, rare in _onehot_levels(encoder))
    operator.outputs[0].type = FloatTensorType([operator.inputs[0].type.shape[0], width])


def _convert_onehot(scope: Any, operator: Any, container: Any) -> None:
    """One column per frequent level (in categories_' order), then the infrequent group, which also
    takes unseen levels (`handle_unknown="infrequent_if_exist"`); without one an unseen level is all zeros."""
    from onnx import TensorProto

    g = _Graph(scope, container)
    x = _concat_inputs(g, operator)
    parts = []
    for i, (frequent, rare) in enumerate(_onehot_levels(operator.raw_operator)):
        column = g.node("Gather", [x, g.const([i], np.int64)], axis=1)
        hits = g.node("Cast", [g.node("Equal", [column, g.const(np.array([frequent], dtype=object), object)])],
                      to=TensorProto.FLOAT)
        parts.append(hits)
        if rare:
            matched = g.node("ReduceSum", [hits, g.const([1], np.int64)], keepdims=1)
            parts.append(g.node("Sub", [g.const(np.float32(1.0), np.float32), matched]))
    container.add_node("Concat", parts, [operator.outputs[0].full_name], axis=1,
                       name=scope.get_unique_operator_name("KilnOneHot"))
