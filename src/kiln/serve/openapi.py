"""The OpenAPI document, with the request body generated from the served model's data contract.

Clients (and schemathesis) see each feature's JSON type, which fields are required and
that extra fields are ignored, so a generated client sends what the server accepts.
"""

from __future__ import annotations

from typing import Any

from kiln.data.schema import Column, Schema
from kiln.serve.decode import MAX_CATEGORY_CHARS, MAX_NUMBER

_NO_NUL = "^[^\\u0000]*$"  # decode refuses NUL in text and categories
_KIND_SCHEMA: dict[str, dict[str, Any]] = {
    "numeric": {"type": "number", "minimum": -MAX_NUMBER, "maximum": MAX_NUMBER},
    "boolean": {"type": "boolean"},
    "categorical": {"type": "string", "maxLength": MAX_CATEGORY_CHARS, "pattern": _NO_NUL},
    "text": {"type": "string", "pattern": _NO_NUL},
    "datetime": {"type": "string", "format": "date-time"},
}
# Fields the model does not use are ignored (and not logged); documented as flat values, as a
# deeper nesting counts against the server's JSON depth limit.
_EXTRA_FIELD = {"type": ["string", "number", "boolean", "null"]}


def request_schemas(schema: Schema, max_rows: int) -> dict[str, Any]:
    """`PredictRequest` and `ExplainRequest` (rows of records), `Problem` (a 4xx body naming field and row)."""
    from kiln.serve.routes.explain import MAX_EXPLAIN_ROWS

    record = {
        "type": "object",
        "properties": {c.name: _property(c) for c in schema.columns},
        "required": [c.name for c in schema.columns if c.required],
        "additionalProperties": _EXTRA_FIELD,
    }
    return {
        "PredictRequest": {"type": "object", "required": ["rows"], "properties": {
            "rows": {"type": "array", "items": record, "minItems": 1, "maxItems": max_rows}}},
        "ExplainRequest": {"type": "object", "required": ["rows"], "properties": {
            "rows": {"type": "array", "items": record, "minItems": 1, "maxItems": min(max_rows, MAX_EXPLAIN_ROWS)}}},
        "Problem": {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "array", "items": {
            "type": "object", "required": ["field", "msg"], "properties": {
                "field": {"type": "string"}, "row": {"type": ["integer", "null"]}, "msg": {"type": "string"},
                "loc": {"type": "array"}}}}}},
    }


def _property(column: Column) -> dict[str, Any]:
    prop = dict(_KIND_SCHEMA[column.kind])
    if column.kind == "numeric" and column.minimum is not None:
        prop["description"] = f"Training range {column.minimum:g} to {column.maximum:g} (others accepted, counted)."
    if column.kind == "categorical" and column.categories:
        prop["examples"] = column.categories[:5]
    if column.nullable:
        prop["type"] = [prop["type"], "null"]
    return prop
