"""Infer what each column is (its kind and role) and coerce new data to match.

The schema is learned once, at training time, stored in the bundle, and applied to
every table the model sees later, so training and prediction read columns the same way.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from kiln.errors import InvalidDataError, InvalidOptionError
from kiln.types import ColumnKind

_ID_NAME = re.compile(r"(^|[^a-z])(id|uuid|guid|udi|key|index|serial)([^a-z]|$)", re.IGNORECASE)
TEXT_MIN_MEAN_LENGTH = 30  # shorter strings are labels (categories), longer ones prose
TEXT_MIN_UNIQUE_SHARE = 0.5
DISCRETE_MAX_LEVELS = 10  # integer columns with this few values are flagged as discrete
MAX_CATEGORIES_STORED = 1000


@dataclass(frozen=True)
class Column:
    """One input column as training saw it."""

    name: str
    kind: ColumnKind
    nullable: bool
    discrete: bool = False
    minimum: float | None = None
    maximum: float | None = None
    categories: list[str] | None = None

    @property
    def required(self) -> bool:
        """A column that never had a missing value in training cannot be imputed."""
        return not self.nullable


@dataclass(frozen=True)
class Schema:
    """Feature columns kept for learning, and the columns dropped with the reason."""

    columns: list[Column]
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def of_kind(self, *kinds: ColumnKind) -> list[str]:
        return [c.name for c in self.columns if c.kind in kinds]

    def to_dict(self) -> dict:
        return {"columns": [asdict(c) for c in self.columns], "dropped": dict(self.dropped)}

    @classmethod
    def from_dict(cls, data: dict) -> Schema:
        return cls([Column(**c) for c in data["columns"]], dict(data.get("dropped", {})))

    def coerce(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return the feature columns of `frame`, in training order, with training types.

        Extra columns are ignored; a missing column that was nullable in training is
        filled with missing values; a missing required column is an error naming it.
        """
        missing = [c.name for c in self.columns if c.name not in frame.columns and c.required]
        if missing:
            raise InvalidDataError(
                f"Required column(s) {missing} are missing from the input; the model was trained "
                f"with them and they never had missing values. Add them to the table."
            )
        out = {}
        for column in self.columns:
            values = frame[column.name] if column.name in frame.columns else pd.Series(
                np.nan, index=frame.index, dtype="float64"
            )
            out[column.name] = _coerce_column(values, column)
        return pd.DataFrame(out, index=frame.index)


def infer_schema(frame: pd.DataFrame, *, exclude: tuple[str, ...] = (), text: tuple[str, ...] = ()) -> Schema:
    """Learn the kind of every column of `frame` except `exclude` (the target); the
    columns in `text` are free text whatever inference would say (`--text-column`)."""
    unknown = [name for name in text if name not in frame.columns or name in exclude]
    if unknown:
        raise InvalidOptionError(f"--text-column {unknown[0]!r} is not a feature column of the table; "
                                 f"its columns are {[c for c in frame.columns if c not in exclude][:10]}.")
    columns: list[Column] = []
    dropped: dict[str, str] = {}
    n_rows = len(frame)
    for name in frame.columns:
        if name in exclude:
            continue
        values = frame[name]
        if name in text:
            if values.dropna().empty:
                dropped[name] = "all values are missing"
                continue
            columns.append(Column(name, "text", bool(values.isna().any())))
            continue
        non_null = values.dropna()
        reason = _drop_reason(name, values, non_null, n_rows)
        if reason:
            dropped[name] = reason
            continue
        columns.append(_describe(name, values, non_null))
    if not columns:
        raise InvalidDataError(
            f"No usable feature column is left (dropped: {dropped or 'none'}); "
            "the table needs at least one column besides the target."
        )
    return Schema(columns, dropped)


def _drop_reason(name: str, values: pd.Series, non_null: pd.Series, n_rows: int) -> str | None:
    if non_null.empty:
        return "all values are missing"
    if non_null.nunique() <= 1:
        return "constant: a single value"
    if n_rows >= 20 and non_null.nunique() == n_rows:
        if pd.api.types.is_integer_dtype(values) and (
            non_null.is_monotonic_increasing or non_null.is_monotonic_decreasing or _ID_NAME.search(name)
        ):
            return "identifier: an integer unique per row"
        if _is_stringy(values) and not _is_text(non_null) and not _parses_as_datetime(non_null.astype(str)):
            return "identifier: a value unique per row"
    return None


def _describe(name: str, values: pd.Series, non_null: pd.Series) -> Column:
    nullable = bool(values.isna().any())
    if pd.api.types.is_bool_dtype(values):
        return Column(name, "boolean", nullable)
    if pd.api.types.is_datetime64_any_dtype(values):
        return Column(name, "datetime", nullable)
    if pd.api.types.is_numeric_dtype(values):
        as_float = non_null.astype("float64")
        discrete = bool((as_float % 1 == 0).all() and as_float.nunique() <= DISCRETE_MAX_LEVELS)
        return Column(name, "numeric", nullable, discrete, float(as_float.min()), float(as_float.max()))
    levels = {value: category_text(value) for value in non_null.unique()}  # once per distinct value
    strings = non_null.map(levels).astype(str)
    if _parses_as_datetime(strings):
        return Column(name, "datetime", nullable)
    if _is_text(strings):
        return Column(name, "text", nullable)
    levels = strings.value_counts().index[:MAX_CATEGORIES_STORED].tolist()
    return Column(name, "categorical", nullable, categories=sorted(levels))


def _is_stringy(values: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)


def _is_text(strings: pd.Series) -> bool:
    strings = strings.astype(str)
    mean_length = strings.str.len().mean()
    return bool(
        mean_length >= TEXT_MIN_MEAN_LENGTH
        and strings.str.contains(" ").mean() > 0.5
        and strings.nunique() / len(strings) >= TEXT_MIN_UNIQUE_SHARE
    )


def _parses_as_datetime(strings: pd.Series) -> bool:
    sample = strings.head(200)
    if not sample.str.contains(r"\d{1,4}[-/.:]\d{1,2}", regex=True).all():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.95)


def _coerce_column(values: pd.Series, column: Column) -> pd.Series:
    if column.kind in ("numeric", "boolean"):
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            return values.astype("float64")
        mapped = values.map(_BOOLEAN_TEXT) if column.kind == "boolean" else values
        converted = pd.to_numeric(mapped, errors="coerce")
        bad = converted.isna() & values.notna()
        if bad.any():
            from kiln.data.rows import row_name

            row = bad.to_numpy().nonzero()[0][0]
            raise InvalidDataError(
                f"Column '{column.name}' must be numeric but {row_name(row, values)} holds {values.iloc[row]!r}; "
                "fix or remove that value."
            )
        return converted.astype("float64")
    if column.kind == "datetime":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pd.to_datetime(values, errors="coerce", format="mixed")
    present = values.notna()
    strings = values.astype(object).where(present, np.nan)
    kept = strings[present]
    strings[present] = kept.map({value: category_text(value) for value in kept.unique()})
    return strings


def category_text(value: object) -> str:
    """A category as text; 75001.0 (an int column read as float for a blank) is '75001'."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


_BOOLEAN_TEXT = {"true": 1.0, "false": 0.0, "True": 1.0, "False": 0.0, "1": 1.0, "0": 0.0,
                 "yes": 1.0, "no": 0.0, True: 1.0, False: 0.0}
