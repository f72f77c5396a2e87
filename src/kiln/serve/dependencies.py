"""What a route needs from the app, as `Depends` functions tests can override.

They are `async def` on purpose: FastAPI runs a plain `def` dependency in its thread pool,
and five thread hops per request cost more than a single-row prediction (measured with
py-spy in benchmarks/serving.py).
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from kiln.serve.guards import key_matches
from kiln.serve.holder import ModelHolder
from kiln.serve.served import ServedModel
from kiln.serve.settings import ServeSettings
from kiln.serve.telemetry import Telemetry
from kiln.store.prediction_log import PredictionLog


async def get_settings(request: Request) -> ServeSettings:
    return request.app.state.settings


async def get_holder(request: Request) -> ModelHolder:
    return request.app.state.holder


async def get_telemetry(request: Request) -> Telemetry:
    return request.app.state.telemetry


async def get_log(request: Request) -> PredictionLog | None:
    return request.app.state.prediction_log


async def current_model(request: Request) -> ServedModel:
    """The model this request uses from start to end (a swap mid-request does not affect it)."""
    served = request.app.state.holder.current
    if served is None:
        raise HTTPException(503, "The model is not loaded yet; retry when GET /ready answers 200.")
    return served


async def require_api_key(request: Request) -> None:
    """The key check again, per route: `guards.ApiKeyGuard` already refuses a keyless request to
    any route but the page and /health; this keeps a router safe if it is mounted elsewhere."""
    expected = request.app.state.settings.api_key
    if expected is not None and not key_matches(expected, request.scope.get("headers", ())):
        raise HTTPException(401, "Missing or wrong API key; send it in the X-API-Key header.",
                            headers={"WWW-Authenticate": "X-API-Key"})
