"""The tabular kind's serve hook: its routes and the request schemas drawn from the model's data contract."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from kiln.serve import text
from kiln.serve.openapi import request_schemas
from kiln.serve.routes import explain, feedback, metadata, monitor, predict

if TYPE_CHECKING:
    from kiln.model import Model


class TabularService:
    """Rows of records in, predictions, contributions and feedback out."""

    routers: tuple[APIRouter, ...] = (predict.router, explain.router, feedback.router, monitor.router,
                                      metadata.router, text.router)

    def request_schemas(self, model: Model, max_rows: int) -> dict[str, Any]:
        return request_schemas(model.schema, max_rows)


SERVICE = TabularService()
