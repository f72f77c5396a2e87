"""Delayed labels: the true outcome of served predictions, recorded when it becomes known.

A label points at a logged prediction either by its request id (and row within the
request), or by the value of an id column the client sent with the row (e.g. a
machine's UDI). `labelled_predictions` joins them for live performance.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from kiln.errors import InvalidDataError
from kiln.store.database import engine
from kiln.store.tables import ensure_tables, feedback


@dataclass(frozen=True)
class Label:
    """One true label; give `request_id` (and `row`), or `id_column` and `key`."""

    label: Any
    request_id: str | None = None
    row: int = 0
    id_column: str | None = None
    key: str | None = None


def record_labels(model: str, labels: list[Label], *, url: str | None = None) -> int:
    """Store `labels` for `model` in one transaction; returns how many were stored."""
    rows = []
    for i, label in enumerate(labels):
        if label.request_id is None and (label.id_column is None or label.key is None):
            raise InvalidDataError(f"Label {i + 1} (counting from 1) names neither a request id nor an id column "
                                   "and value; give request_id (and row), or id_column and id.")
        if label.label is None or (isinstance(label.label, float) and label.label != label.label):
            raise InvalidDataError(f"Label {i + 1} (counting from 1) has no value; give the true label.")
        rows.append({"model": model, "request_id": label.request_id, "row": label.row,
                     "id_column": label.id_column, "key": None if label.key is None else _key_text(label.key),
                     "label": label.label, "at": time.time()})
    if not rows:
        return 0
    database = engine(url)
    ensure_tables(database)
    with database.begin() as connection:
        connection.execute(feedback.insert(), rows)
    return len(rows)


def labels_from_table(table: pd.DataFrame, *, label_column: str | None = None,
                      id_column: str | None = None) -> list[Label]:
    """Rows of a labels file → `Label`s: `request_id` (+ optional `row`) or `id_column`, and the label."""
    label_column = label_column or "label"
    if label_column not in table.columns:
        raise InvalidDataError(f"The labels table has no '{label_column}' column (it has {list(table.columns)[:8]}); "
                               "name the label column with --label-column.")
    key = id_column or "request_id"
    if key not in table.columns:
        raise InvalidDataError(f"The labels table has no '{key}' column; give request_id (from /predict) or "
                               "--id-column naming the id you sent with each row.")
    present = table[table[label_column].notna()]
    values = [v.item() if hasattr(v, "item") else v for v in present[label_column]]
    if id_column:
        return [Label(v, id_column=id_column, key=k) for v, k in zip(values, present[id_column], strict=True)]
    rows = present["row"].astype(int) if "row" in present.columns else [0] * len(present)
    return [Label(v, request_id=str(r), row=int(k)) for v, r, k in zip(values, present["request_id"], rows,
                                                                          strict=True)]


def read_labels(model: str, *, url: str | None = None, predictions: list[tuple[str, int]] | None = None,
                keys: dict[str, list[Any]] | None = None) -> pd.DataFrame:
    """The labels recorded for `model`; the latest wins when one prediction was labelled twice.

    Every label by default; given `predictions` ((request id, row) pairs) and `keys` (id
    column → values), only the labels of those rows, so that reading the labels of a
    sampled window costs in proportion to the sample, not to every label ever given.
    """
    from sqlalchemy import select

    database = engine(url)
    ensure_tables(database)
    columns = ["id", "model", "request_id", "row", "id_column", "key", "label", "at"]
    rows: list[dict[str, Any]] = []
    with database.connect() as connection:
        if predictions is None and keys is None:
            result = connection.execute(select(feedback).where(feedback.c.model == model))
            rows = [dict(r._mapping) for r in result]
        else:
            pairs = sorted({(str(r), int(k)) for r, k in predictions or []})
            for part in _chunks(pairs, 450):
                rows += _labels_of_rows(connection, part)
            for column, values in (keys or {}).items():
                for chunk in _chunks(sorted({_key_text(v) for v in values})):
                    query = select(feedback).where(feedback.c.key.in_(chunk), feedback.c.id_column == column)
                    rows += [dict(r._mapping) for r in connection.execute(query)]
    rows = [r for r in rows if r["model"] == model]
    unique = {r["id"]: r for r in rows}  # a label can match by request id and by key
    return pd.DataFrame(sorted(unique.values(), key=lambda r: r["id"]), columns=columns)


def _labels_of_rows(connection: Any, pairs: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """The labels of these (request id, row) pairs: one (request_id, row) index seek each.

    Plain SQL: SQLite plans a row-value IN as a scan but an OR of equalities as seeks, and
    SQLAlchemy spends ~0.2 ms building each equality. No model condition either, or the
    planner walks the model index through every label of the model.
    """
    from kiln.store.database import _from_json

    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    where = " OR ".join([f'(request_id = {mark} AND "row" = {mark})'] * len(pairs))
    names = ", ".join(f'"{c}"' for c in ("id", "model", "request_id", "row", "id_column", "key", "label", "at"))
    result = connection.exec_driver_sql(f"SELECT {names} FROM kiln_feedback WHERE {where}",
                                        tuple(v for pair in pairs for v in pair))
    fields = ["id", "model", "request_id", "row", "id_column", "key", "label", "at"]
    out = [dict(zip(fields, row, strict=True)) for row in result]
    for row in out:
        row["label"] = row["label"] if isinstance(row["label"], int | float | dict | list) else _from_json(row["label"])
    return out


def _chunks(values: list[Any], size: int = 900) -> list[list[Any]]:
    """IN lists short enough for any database's limit on bound parameters."""
    return [values[i:i + size] for i in range(0, len(values), size)]


def labelled_predictions(predictions: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """`predictions` (from the log, one row per served row, with an `inputs` dict column) with a
    `label` column where a label is known (by request id and row, or by id column value)."""
    out = predictions.copy()
    out["label"] = None
    if labels.empty or out.empty:
        return out
    by_request = labels.dropna(subset=["request_id"]).drop_duplicates(["request_id", "row"], keep="last")
    lookup = {(r, int(k)): v for r, k, v in zip(by_request["request_id"], by_request["row"], by_request["label"],
                                                 strict=True)}
    out["label"] = _objects([lookup.get((r, int(k))) for r, k in zip(out["request_id"], out["row"], strict=True)], out)
    by_key = labels.dropna(subset=["id_column", "key"]).drop_duplicates(["id_column", "key"], keep="last")
    for column, group in by_key.groupby("id_column"):
        keyed = dict(zip(group["key"], group["label"], strict=True))
        keys = [None if inputs.get(column) is None else _key_text(inputs.get(column)) for inputs in out["inputs"]]
        found = [keyed.get(k) if k is not None else None for k in keys]
        out["label"] = _objects([f if f is not None else current
                                 for f, current in zip(found, out["label"], strict=True)], out)
    return out


def _objects(values: list[Any], frame: pd.DataFrame) -> pd.Series:
    """Labels keep their type (1 stays 1, "yes" stays "yes"); missing stays None, not NaN."""
    return pd.Series(values, index=frame.index, dtype=object)


def _key_text(value: Any) -> str:
    """Ids as text, with 17.0 (an int read as float) written as 17, as clients send them."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
