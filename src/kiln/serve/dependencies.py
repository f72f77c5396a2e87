"""What a route needs from the app, as `Depends` functions tests can override.

They are `async def` on purpose: FastAPI runs a plain `def` dependency in its thread pool,
and five thread hops per request cost more than a single-row prediction (measured with
py-spy in benchmarks/serving.py).
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

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
    """With --api-key set, every route but the page and /health needs the key in X-API-Key."""
    expected = request.app.state.settings.api_key
    if expected is None:
        return
    given = request.headers.get("x-api-key")
    if given is None:
        authorization = request.headers.get("authorization", "")
        given = authorization[7:] if authorization.lower().startswith("bearer ") else None
    if given is None or not hmac.compare_digest(given.encode("utf-8", "surrogatepass"),
                                                expected.encode("utf-8", "surrogatepass")):
        raise HTTPException(401, "Missing or wrong API key; send it in the X-API-Key header.",
                            headers={"WWW-Authenticate": "X-API-Key"})
