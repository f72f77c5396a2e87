"""A fitted preprocessing ColumnTransformer compiled into numpy functions over decoded columns.

`Schema.coerce` and `ColumnTransformer.transform` cost about 2 ms per call on one row,
nearly all of it pandas and validation overhead. The fitted state is small (category
lists, medians, means and scales), so each part of the transformer is rebuilt as a
numpy function reading the request's columns directly: ordinal codes and one-hot rows
come from dictionaries, imputation and scaling are array arithmetic, datetime parts come
from numpy's calendar units. A part this module does not know is kept as it is and fed a
one-off pandas frame (built once per request, only when some part needs it).

Columns arrive decoded (see `kiln.serve.fast_path`): numbers as float64 with NaN,
categories and text as object arrays of `str` with `None` for missing, datetimes as
`datetime64` with NaT.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from kiln.data.schema import Schema

UNSEEN = "\x00kiln: a category never seen in training\x00"  # probes the one-hot encoder's unknown row
NUMERIC_KINDS = frozenset({"numeric", "boolean"})
OBJECT_KINDS = frozenset({"categorical", "text"})

Columns = list[np.ndarray]  # a part's input columns, in the transformer's order
Step = Callable[[Any], Any]


class Request:
    """One call's decoded columns; builds the coerced pandas frame only if a part needs it."""

    def __init__(self, columns: dict[str, np.ndarray], n_rows: int, schema: Schema) -> None:
        self.columns = columns
        self.n_rows = n_rows
        self.schema = schema

    @cached_property
    def frame(self) -> pd.DataFrame:
        """What `Model.predict_raw` would hand the transformer: `schema.coerce` of the rows."""
        return self.schema.coerce(pd.DataFrame({name: self.columns[name] for name in self.schema.names}))


@dataclass
class CompiledPrep:
    """A ColumnTransformer as a list of parts; `__call__` returns what `transform` would."""

    parts: list[Callable[[Request], Any]]
    sparse_output: bool
    key: str  # equal keys: equal fitted transformers (their output is computed once per request)
    fallbacks: list[str] = field(default_factory=list)  # parts that run through pandas

    def __call__(self, request: Request) -> Any:
        outputs = [part(request) for part in self.parts]
        outputs = [out.to_numpy() if isinstance(out, pd.DataFrame) else out for out in outputs]
        if not outputs:
            return np.zeros((request.n_rows, 0))
        if self.sparse_output:
            from kiln.serve.fast_text import hstack_csr

            return hstack_csr(outputs)
        dense = [out.toarray() if sparse.issparse(out) else out for out in outputs]
        return dense[0] if len(dense) == 1 else np.hstack(dense)


def fitted_key(prep: Any) -> str:
    """A digest of the fitted transformer's state: members and folds fitted to the same
    categories and statistics share one, and their output is computed once per request.

    Pickle bytes would not do: two equal transformers pickle differently when one shares
    a NaN object between attributes and the other does not.
    """
    digest = hashlib.sha256()
    _feed(digest, prep, set())
    return digest.hexdigest()


def _feed(digest: Any, value: Any, active: set[int]) -> None:
    """Hash `value` canonically (NaN as NaN, arrays by dtype, shape and bytes)."""
    if value is None or isinstance(value, bool | int | str | bytes):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, float | np.floating):
        digest.update(f"f:{'nan' if np.isnan(value) else repr(float(value))};".encode())
    elif isinstance(value, np.generic):
        digest.update(f"{value.dtype}:{value!r};".encode())
    elif isinstance(value, np.ndarray) and value.dtype != object:
        digest.update(f"a:{value.dtype}:{value.shape};".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif id(value) in active:  # a cycle: name it, do not follow it
        digest.update(f"cycle:{type(value).__qualname__};".encode())
    elif isinstance(value, type) or (callable(value) and not hasattr(value, "get_params")):
        digest.update(f"callable:{_opaque(value)!r};".encode())
    else:
        active.add(id(value))
        if isinstance(value, np.ndarray | list | tuple):
            digest.update(f"seq:{type(value).__name__}:{len(value)}:{getattr(value, 'shape', '')};".encode())
            for item in value if not isinstance(value, np.ndarray) else value.ravel():
                _feed(digest, item, active)
        elif isinstance(value, dict):
            digest.update(f"dict:{len(value)};".encode())
            for key in sorted(value, key=repr):
                _feed(digest, key, active)
                _feed(digest, value[key], active)
        elif hasattr(value, "__dict__"):
            digest.update(f"object:{type(value).__module__}.{type(value).__qualname__};".encode())
            _feed(digest, vars(value), active)
        else:
            digest.update(f"opaque:{_opaque(value)!r};".encode())
        active.discard(id(value))


def _opaque(value: Any) -> bytes:
    """Pickle bytes of a value the walk does not open; its identity if it cannot pickle."""
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return f"id:{id(value)}".encode()


def whole_fallback(prep: Any, key: str) -> CompiledPrep:
    """The transformer as it is, on the request's pandas frame."""
    return CompiledPrep([lambda request: prep.transform(request.frame)], False, key, ["(whole transformer)"])


def compile_prep(prep: Any, schema: Schema) -> CompiledPrep:
    """Compile a fitted ColumnTransformer; unknown parts fall back to pandas one by one."""
    from sklearn.compose import ColumnTransformer

    key = fitted_key(prep)
    kinds = {column.name: column.kind for column in schema.columns}
    output_config = getattr(prep, "_sklearn_output_config", {}).get("transform", "default")
    if not isinstance(prep, ColumnTransformer) or output_config != "default":
        return whole_fallback(prep, key)
    parts: list[Callable[[Request], Any]] = []
    fallbacks: list[str] = []
    for name, transformer, selection in prep.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        names = list(selection) if isinstance(selection, list | tuple | np.ndarray) else None
        if names is not None and len(names) == 0:
            continue  # scikit-learn skips parts without columns
        if names is None or not all(isinstance(n, str) and n in kinds for n in names):
            return whole_fallback(prep, key)
        part = _compile_part(transformer, names, [kinds[n] for n in names])
        if part is None:
            part = _fallback_part(transformer, names)
            fallbacks.append(name)
        parts.append(part)
    return CompiledPrep(parts, bool(prep.sparse_output_), key, fallbacks)


def _fallback_part(transformer: Any, names: list[str]) -> Callable[[Request], Any]:
    if isinstance(transformer, str):  # "passthrough"
        return lambda request: request.frame[names]
    return lambda request: transformer.transform(request.frame[names])


def _compile_part(transformer: Any, names: list[str], kinds: list[str]) -> Callable[[Request], Any] | None:
    """Chain the compiled steps of one part (a Pipeline's steps, or a single transformer)."""
    from sklearn.pipeline import Pipeline

    steps = [step for _, step in transformer.steps] if isinstance(transformer, Pipeline) else [transformer]
    state: tuple[str, ...] = ("raw", *kinds)
    functions: list[Step] = []
    for step in steps:
        compiled = _compile_step(step, state)
        if compiled is None:
            return None
        function, state = compiled
        functions.append(function)
    if state[0] not in ("matrix", "sparse"):
        return None

    def part(request: Request) -> Any:
        value: Any = [request.columns[name] for name in names]
        for function in functions:
            value = function(value)
        return value

    return part


def _compile_step(step: Any, state: tuple[str, ...]) -> tuple[Step, tuple[str, ...]] | None:
    """One fitted step as a function, with the state it leaves ("raw"+kinds, "matrix",
    "strings" or "sparse"); None when the step or its input is not one this module knows."""
    from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

    from kiln.prep.embed import SentenceEmbedding
    from kiln.prep.text import TextStack
    from kiln.prep.transformers import DatetimeFeatures, TextColumn, TextStatistics

    stage, kinds = state[0], set(state[1:])
    raw_numeric = stage == "raw" and kinds <= NUMERIC_KINDS
    raw_objects = stage == "raw" and kinds <= OBJECT_KINDS
    passthrough = (isinstance(step, str) and step == "passthrough") or (
        type(step) is FunctionTransformer and step.func is None)
    built: tuple[Step | None, tuple[str, ...]] | None = None
    if passthrough and (raw_numeric or stage == "matrix"):
        built = (_stack if raw_numeric else _identity), ("matrix",)
    elif type(step) is OrdinalEncoder and raw_objects:
        built = _ordinal_encoder(step), ("matrix",)
    elif type(step) is OneHotEncoder and raw_objects:
        built = _one_hot_encoder(step), ("matrix",)
    elif type(step) is DatetimeFeatures and stage == "raw" and kinds == {"datetime"}:
        built = _datetime_parts, ("matrix",)
    elif type(step) is TextStatistics and raw_objects:
        built = _text_statistics, ("matrix",)
    elif type(step) is TextColumn and raw_objects and len(state) == 2:
        built = _text_column, ("strings",)
    elif type(step) is TextStack and raw_objects and len(state) == 2:  # prep/text.py
        from kiln.serve.fast_text import compile_text_stack

        scores = compile_text_stack(step) or step.transform
        built = (lambda columns: scores(_text_column(columns))), ("matrix",)
    elif type(step) is SentenceEmbedding and raw_objects and len(state) == 2:  # prep/embed.py
        built = (lambda columns: step.transform(_text_column(columns))), ("matrix",)
    elif isinstance(step, CountVectorizer | HashingVectorizer) and stage == "strings":
        from kiln.serve.fast_text import compile_vectorizer

        built = (compile_vectorizer(step) or step.transform), ("sparse",)
    elif type(step) is SimpleImputer and (raw_numeric or stage == "matrix"):
        built = _numeric_imputer(step, stack=raw_numeric), ("matrix",)
    elif type(step) is SimpleImputer and raw_objects:
        built = _constant_imputer(step), state
    elif type(step) is StandardScaler and stage == "matrix":
        built = _standard_scaler(step), ("matrix",)
    if built is None or built[0] is None:
        return None
    return built[0], built[1]


# -- steps -----------------------------------------------------------------------------------


def _identity(value: Any) -> Any:
    return value


def _stack(columns: Columns) -> np.ndarray:
    if columns and all(column.ndim == 1 for column in columns):  # one array call: column_stack's per-column
        return np.array(columns, dtype=np.float64).T  # calls took 2.4 ms of one 1,700-column image row
    return np.column_stack(columns).astype(np.float64, copy=False)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and np.isnan(value)


def _string_categories(categories: np.ndarray) -> tuple[list[str], bool] | None:
    """A fitted category list as strings, and whether missing values were a category."""
    values = list(categories)
    has_missing = bool(values) and _is_nan(values[-1])
    if has_missing:
        values = values[:-1]
    return (values, has_missing) if all(isinstance(v, str) for v in values) else None


def _codes(column: np.ndarray, table: dict[Any, float], unknown: float) -> np.ndarray:
    get = table.get
    return np.fromiter((get(value, unknown) for value in column), dtype=np.float64, count=len(column))


def _ordinal_encoder(encoder: Any) -> Step | None:
    """Category → its index; missing → `encoded_missing_value` (if training had missing
    values, else it is unknown), unknown → `unknown_value`."""
    if (encoder.handle_unknown != "use_encoded_value" or encoder.min_frequency is not None
            or encoder.max_categories is not None):
        return None
    unknown = float(encoder.unknown_value)
    tables = []
    for categories in encoder.categories_:
        described = _string_categories(categories)
        if described is None:
            return None
        values, has_missing = described
        table: dict[Any, float] = {value: float(i) for i, value in enumerate(values)}
        table[None] = float(encoder.encoded_missing_value) if has_missing else unknown
        tables.append(table)

    def encode(columns: Columns) -> np.ndarray:
        return np.column_stack([_codes(c, t, unknown) for c, t in zip(columns, tables, strict=True)])

    return encode


def _one_hot_encoder(encoder: Any) -> Step | None:
    """Each category's output block, read off the fitted encoder itself.

    One probe call per encoder at compile time transforms every known category and one
    never seen, so infrequent grouping and unknown handling are the encoder's own.
    """
    widths = getattr(encoder, "_n_features_outs", None)
    if encoder.handle_unknown not in ("ignore", "infrequent_if_exist") or encoder.drop is not None or widths is None:
        return None
    described = [_string_categories(categories) for categories in encoder.categories_]
    if any(d is None or d[1] for d in described):
        return None
    values = [d[0] for d in described if d is not None]
    n_probe = max(len(v) for v in values) + 1
    probe = np.array([[v[i] if i < len(v) else UNSEEN for v in values] for i in range(n_probe)], dtype=object)
    if hasattr(encoder, "feature_names_in_"):
        probe = pd.DataFrame(probe, columns=encoder.feature_names_in_)
    encoded = encoder.transform(probe)
    encoded = encoded.toarray() if sparse.issparse(encoded) else np.asarray(encoded)
    starts = np.cumsum([0, *widths])
    blocks, tables = [], []
    for i, categories in enumerate(values):
        rows = encoded[: len(categories) + 1, starts[i]: starts[i + 1]].astype(np.float64)
        rows[len(categories)] = encoded[n_probe - 1, starts[i]: starts[i + 1]]  # the unknown row
        blocks.append(rows)
        tables.append({value: j for j, value in enumerate(categories)})

    def encode(columns: Columns) -> np.ndarray:
        parts = []
        for column, table, block in zip(columns, tables, blocks, strict=True):
            get, unknown = table.get, len(block) - 1
            index = np.fromiter((get(value, unknown) for value in column), dtype=np.intp, count=len(column))
            parts.append(block[index])
        return parts[0] if len(parts) == 1 else np.hstack(parts)

    return encode


def _datetime_parts(columns: Columns) -> np.ndarray:
    """Year, month, day, day of week (Monday 0) and hour, as `DatetimeFeatures` gives them."""
    parts = []
    for column in columns:
        stamps = np.asarray(column).astype("datetime64[ns]")
        missing = np.isnat(stamps)
        days = stamps.astype("datetime64[D]")
        months = stamps.astype("datetime64[M]")
        day_number = days.astype(np.int64)
        values = [
            stamps.astype("datetime64[Y]").astype(np.int64) + 1970,
            months.astype(np.int64) % 12 + 1,
            (days - months.astype("datetime64[D]")).astype(np.int64) + 1,
            (day_number + 3) % 7,  # 1970-01-01 was a Thursday
            (stamps - days).astype("timedelta64[h]").astype(np.int64),
        ]
        for value in values:
            part = value.astype(np.float64)
            part[missing] = np.nan
            parts.append(part)
    return np.column_stack(parts) if parts else np.empty((0, 0))


def _text_statistics(columns: Columns) -> np.ndarray:
    """Characters and whitespace-separated words per text; missing text counts as empty."""
    parts = []
    for column in columns:
        texts = ["" if value is None else str(value) for value in column]
        parts.append(np.fromiter((len(t) for t in texts), dtype=np.float64, count=len(texts)))
        parts.append(np.fromiter((len(t.split()) for t in texts), dtype=np.float64, count=len(texts)))
    return np.column_stack(parts)


def _text_column(columns: Columns) -> np.ndarray:
    return np.array(["" if value is None else str(value) for value in columns[0]], dtype=object)


def _numeric_imputer(imputer: Any, *, stack: bool) -> Step | None:
    """Missing values → the fitted statistic; columns without one are dropped unless kept;
    the missing indicator (columns that had missing values in training) is appended."""
    if not _is_nan(imputer.missing_values):
        return None
    statistics = np.asarray(imputer.statistics_, dtype=np.float64)
    if imputer.keep_empty_features:
        kept, fill = np.arange(len(statistics)), statistics
    else:
        kept = np.flatnonzero(~np.isnan(statistics))
        fill = statistics[kept]
    indicator = None
    if imputer.add_indicator:
        if imputer.indicator_.sparse not in ("auto", False):
            return None
        indicator = np.asarray(imputer.indicator_.features_, dtype=np.intp)

    def impute(value: Any) -> np.ndarray:
        X = _stack(value) if stack else value
        missing = np.isnan(X)
        out = np.where(missing[:, kept], fill, X[:, kept])
        if indicator is not None:
            out = np.hstack([out, missing[:, indicator].astype(np.float64)])
        return out

    return impute


def _constant_imputer(imputer: Any) -> Step | None:
    """Missing categories → the fill value (what the one-hot encoder then sees)."""
    if imputer.strategy != "constant" or imputer.add_indicator or not _is_nan(imputer.missing_values):
        return None
    fills = list(imputer.statistics_)

    def impute(columns: Columns) -> Columns:
        out = []
        for column, fill in zip(columns, fills, strict=True):
            filled = np.array(column, dtype=object)
            filled[[value is None for value in column]] = fill
            out.append(filled)
        return out

    return impute


def _standard_scaler(scaler: Any) -> Step:
    mean = scaler.mean_ if scaler.with_mean else None
    scale = scaler.scale_ if scaler.with_std else None

    def standardise(X: np.ndarray) -> np.ndarray:
        if mean is not None:
            X = X - mean
        if scale is not None:
            X = X / scale
        return X

    return standardise
