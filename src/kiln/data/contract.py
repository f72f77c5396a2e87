"""The data contract: what training saw, enforced on every table the model sees later.

Learned at training time from the schema and the data: each column's kind, whether it
may be missing, its numeric range or category set, and a small binned reference
distribution (for drift detection later). Checked with pandera:

- a missing required column, a value that cannot be read as the column's type, or a
  missing value where training never had one → `InvalidDataError` naming column and row;
- unseen categories and out-of-range numbers → accepted, counted in a `ContractReport`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kiln.data.schema import Column, Schema, category_text
from kiln.errors import InvalidDataError

REFERENCE_BINS = 10
REFERENCE_TOP_CATEGORIES = 20


@dataclass
class ContractReport:
    """What a batch did that training never saw: accepted, but worth knowing."""

    rows: int
    unseen_categories: dict[str, int] = field(default_factory=dict)
    out_of_range: dict[str, int] = field(default_factory=dict)
    imputed_columns: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.unseen_categories or self.out_of_range or self.imputed_columns)

    def warnings(self) -> list[str]:
        """One sentence per issue, for the CLI and logs."""
        lines = [f"Column '{c}': {n:,} of {self.rows:,} rows hold a category not seen in training "
                 "(treated as unknown)." for c, n in self.unseen_categories.items()]
        lines += [f"Column '{c}': {n:,} of {self.rows:,} rows fall outside the training range "
                  "(predictions there are extrapolations)." for c, n in self.out_of_range.items()]
        lines += [f"Column '{c}' is absent; it was sometimes missing in training, so it is imputed."
                  for c in self.imputed_columns]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "unseen_categories": dict(self.unseen_categories),
                "out_of_range": dict(self.out_of_range), "imputed_columns": list(self.imputed_columns)}


def reference_distributions(features: pd.DataFrame, schema: Schema) -> dict[str, dict[str, Any]]:
    """Small binned distributions of the training features, stored in the bundle."""
    reference: dict[str, dict[str, Any]] = {}
    for column in schema.columns:
        values = features[column.name]
        missing = float(values.isna().mean())
        present = values.dropna()
        if column.kind in ("numeric", "boolean") and len(present):
            edges = np.unique(np.quantile(present.astype("float64"), np.linspace(0, 1, REFERENCE_BINS + 1)))
            counts = np.histogram(present, bins=edges)[0] if len(edges) > 1 else np.array([len(present)])
            reference[column.name] = {"type": "numeric", "edges": edges.tolist(),
                                      "shares": (counts / max(counts.sum(), 1)).tolist(), "missing": missing}
        elif column.kind == "categorical":
            shares = present.value_counts(normalize=True)
            top = shares.head(REFERENCE_TOP_CATEGORIES)
            reference[column.name] = {"type": "categorical", "categories": [str(c) for c in top.index],
                                      "shares": top.tolist(), "other": float(max(0.0, 1 - top.sum())),
                                      "missing": missing}
        else:
            reference[column.name] = {"type": column.kind, "missing": missing}
    return reference


def check_contract(frame: pd.DataFrame, schema: Schema) -> ContractReport:
    """Validate `frame` against the training schema; raise on violations, count oddities."""
    _raise_on_violations(frame, schema)
    report = ContractReport(rows=len(frame))
    for column in schema.columns:
        if column.name not in frame.columns:
            report.imputed_columns.append(column.name)
            continue
        values = frame[column.name]
        if column.kind == "categorical" and column.categories is not None:
            known = set(column.categories)
            present = values.dropna().map(category_text)
            unseen = int((~present.isin(known)).sum())
            if unseen:
                report.unseen_categories[column.name] = unseen
        elif column.kind == "numeric" and column.minimum is not None:
            numbers = pd.to_numeric(values, errors="coerce")
            outside = int(((numbers < column.minimum) | (numbers > column.maximum)).sum())
            if outside:
                report.out_of_range[column.name] = outside
    return report


def _raise_on_violations(frame: pd.DataFrame, schema: Schema) -> None:
    import pandera.pandas as pa
    from pandera.errors import SchemaErrors

    contract = pa.DataFrameSchema({c.name: _pandera_column(c) for c in schema.columns}, strict=False)
    try:
        contract.validate(frame, lazy=True)
    except SchemaErrors as errors:
        raise InvalidDataError(_first_violation(errors.failure_cases, frame, schema)) from None


def _pandera_column(column: Column) -> Any:
    import pandera.pandas as pa

    checks = []
    if column.kind in ("numeric", "boolean"):
        checks.append(pa.Check(_readable_as_number, element_wise=True, error="not a number"))
    if column.kind == "datetime":
        checks.append(pa.Check(_readable_as_datetime, element_wise=True, error="not a date or time"))
    return pa.Column(nullable=column.nullable, required=column.required, checks=checks, name=column.name)


def _readable_as_number(value: Any) -> bool:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return True
    if isinstance(value, bool | int | float | np.number | np.bool_):
        return bool(np.isfinite(float(value)))
    text = str(value).strip()
    if text.lower() in {"true", "false", "yes", "no"}:
        return True
    try:
        return bool(np.isfinite(float(text)))
    except ValueError:
        return False


def _readable_as_datetime(value: Any) -> bool:
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return True
    try:
        pd.Timestamp(value)
        return True
    except (ValueError, TypeError):
        return False


def _first_violation(failures: pd.DataFrame, frame: pd.DataFrame, schema: Schema) -> str:
    """The first problem pandera found, as one sentence with its column, row and fix."""
    failure = failures.iloc[0]
    column = str(failure["column"]) if pd.notna(failure["column"]) else None
    check = str(failure["check"])
    if check == "column_in_dataframe":
        missing = failures.loc[failures["check"] == "column_in_dataframe", "failure_case"].astype(str).tolist()
        return (f"Required column(s) {missing} are missing from the input; the model was trained with them "
                "and they never had missing values. Add them to the table.")
    row = _row_number(failure["index"], frame)
    value = failure["failure_case"]
    if check == "not_nullable":
        return (f"Column '{column}' is empty in {row}, but it never had missing values in training; "
                "fill that value or drop the row.")
    kind = {c.name: c.kind for c in schema.columns}.get(column or "", "")
    return (f"Column '{column}' must be {'a number' if kind in ('numeric', 'boolean') else 'a date'} but {row} "
            f"holds {value!r}; fix or remove that value.")


def _row_number(index: Any, frame: pd.DataFrame) -> str:
    """The row as a person finds it in the file (kiln.data.rows); index labels may differ from positions."""
    from kiln.data.rows import row_name

    try:
        return row_name(int(frame.index.get_loc(index)), frame)
    except (KeyError, TypeError):
        return f"the row labelled {index!r}"
