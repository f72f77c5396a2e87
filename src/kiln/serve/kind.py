"""What a kind's serve hook provides (the registry names it; kiln.kinds.registry)."""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import APIRouter


class Service(Protocol):
    """The routes a kind answers on and the request bodies its OpenAPI document describes.

    The shared routes (/health, /ready, /metrics, /stats, the page) are the server's own;
    a kind adds its resources (tabular: /predict, /explain, /feedback, /metadata, /monitor).
    """

    routers: tuple[APIRouter, ...]

    def request_schemas(self, model: Any, max_rows: int) -> dict[str, Any]:
        """OpenAPI component schemas for the served model's request bodies."""
        ...
