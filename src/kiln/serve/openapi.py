"""The OpenAPI document, with the request body generated from the served model's data contract.

Clients (and schemathesis) see each feature's JSON type, which fields are required and
that extra fields are ignored, so a generated client sends what the server accepts.
"""

from __future__ import annotations

from typing import Any

from kiln.data.schema import Column, Schema

_KIND_SCHEMA: dict[str, dict[str, Any]] = {
    "numeric": {"type": "number"},
    "boolean": {"type": "boolean"},
    "categorical": {"type": "string"},
    "text": {"type": "string"},
    "datetime": {"type": "string", "format": "date-time"},
}


def request_schemas(schema: Schema, max_rows: int) -> dict[str, Any]:
    """`PredictRequest` (rows of records) and `Problem` (a 4xx body naming the field and row)."""
    record = {
        "type": "object",
        "properties": {c.name: _property(c) for c in schema.columns},
        "required": [c.name for c in schema.columns if c.required],
        "additionalProperties": True,
    }
    return {
        "PredictRequest": {"type": "object", "required": ["rows"], "properties": {
            "rows": {"type": "array", "items": record, "minItems": 1, "maxItems": max_rows}}},
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
