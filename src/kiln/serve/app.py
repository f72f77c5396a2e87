"""`create_app(settings)`: the FastAPI app that serves one model (or follows a registry alias).

    POST /predict  POST /explain  POST /feedback  GET /monitor  GET /metadata  GET /health  GET /ready
    GET /metrics (Prometheus)  GET /stats (JSON)  GET / (the web page)

The lifespan loads and warms up the model before the first request, starts the
prediction-log writer, and on shutdown stops following the alias and flushes the log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from kiln import kinds
from kiln.serve.batching import MicroBatcher
from kiln.serve.decode import RequestProblem
from kiln.serve.drain import CloseWhileDraining
from kiln.serve.guards import ApiKeyGuard, HostGuard, MediaTypeGuard
from kiln.serve.holder import ModelHolder
from kiln.serve.limits import BodyLimitMiddleware
from kiln.serve.routes import health, metrics, page
from kiln.serve.settings import ServeSettings
from kiln.serve.telemetry import Telemetry, TelemetryMiddleware

_log = logging.getLogger("kiln.serve")


def create_app(settings: ServeSettings, *, holder: ModelHolder | None = None) -> FastAPI:
    """The app for `settings.model`; pass a loaded `holder` to skip loading (tests, benchmarks)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from starlette.concurrency import run_in_threadpool

        if app.state.holder.current is None:
            await run_in_threadpool(app.state.holder.load)
        if settings.log_predictions:
            from kiln.store.prediction_log import PredictionLog

            app.state.prediction_log = PredictionLog(batch_rows=settings.log_batch_rows, flush_s=settings.log_flush_s,
                                                     queue_rows=settings.log_queue_rows)
        try:
            yield
        finally:
            app.state.holder.stop()
            if app.state.prediction_log is not None:
                app.state.prediction_log.close()

    app = FastAPI(title="kiln model server", version=_kiln_version(), lifespan=lifespan, docs_url=None,
                  redoc_url=None)
    app.state.settings = settings
    app.state.holder = holder or ModelHolder(settings.model, follow_interval_s=settings.follow_interval_s)
    app.state.telemetry = Telemetry()
    app.state.prediction_log = None
    app.state.openapi_version = None
    app.state.batcher = MicroBatcher(settings.batch_window_ms / 1000) if settings.batching else None
    kind = _served_kind(settings, app.state.holder)
    for router in _kind_routers(kind):
        app.include_router(router)
    for module in (health, metrics, page):
        app.include_router(module.router)
    app.add_exception_handler(RequestProblem, _problem)
    app.add_exception_handler(HTTPException, _http_problem)
    app.add_exception_handler(RequestValidationError, _validation_problem)
    # the last added runs first: telemetry, Host, CORS (answers preflights), key, content type, body size
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MediaTypeGuard, extra=getattr(kinds.get(kind).hook("serve"), "media_types", ()))
    app.add_middleware(ApiKeyGuard, api_key=settings.api_key)
    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["content-type", "x-api-key", "authorization", "x-request-id"],
                           expose_headers=["x-model-version", "x-request-id"], max_age=600)
    app.add_middleware(HostGuard, bind=settings.host, allowed=settings.allowed_hosts)
    app.add_middleware(TelemetryMiddleware, telemetry=app.state.telemetry)
    app.add_middleware(CloseWhileDraining)  # outermost: every answer of the drain, refusals too, closes
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    from fastapi.openapi.utils import get_openapi

    if app.openapi_schema is None or app.state.openapi_version != _served_version(app):
        document = get_openapi(title=app.title, version=app.version, routes=app.routes)
        served = app.state.holder.current
        if served is not None:
            service = kinds.get(served.model.kind).hook("serve")
            schemas = service.request_schemas(served.model, app.state.settings.max_rows)
            document.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
        app.openapi_schema = document
        app.state.openapi_version = _served_version(app)
    return app.openapi_schema


def _kind_routers(kind: str) -> list[APIRouter]:
    """The served model's kind's routes: a kind brings its resources with it, and two kinds may answer on
    the same path (tabular rows and image uploads both POST /predict)."""
    return list(kinds.get(kind).hook("serve").routers)


def _served_kind(settings: ServeSettings, holder: ModelHolder) -> str:
    """The kind of the model this app serves, known before the lifespan loads it: the loaded model's, else
    its manifest's. A source that cannot be read yet is tabular here; the load then says what is wrong."""
    if holder.current is not None:
        return str(holder.current.model.kind)
    import json
    from pathlib import Path

    try:
        source = settings.model
        if source.startswith("models:/"):
            from kiln.store.registry import resolve

            folder = Path(resolve(source).path)
        else:
            folder = Path(source)
        kind = kinds.kind_of(json.loads((folder / "kiln.json").read_text(encoding="utf-8")))
    except Exception:
        return kinds.DEFAULT_KIND
    return kind if kind in kinds.names() else kinds.DEFAULT_KIND


def _served_version(app: FastAPI) -> str | None:
    served = app.state.holder.current
    return served.version if served else None


async def _problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestProblem)
    return JSONResponse(exc.body(), status_code=exc.status)


async def _http_problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": [{"field": "request", "row": None, "msg": str(exc.detail), "loc": []}]},
                        status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def _validation_problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = [{"field": ".".join(str(p) for p in error.get("loc", ())) or "request", "row": None,
               "msg": error.get("msg", "invalid"), "loc": list(error.get("loc", ()))} for error in exc.errors()]
    return JSONResponse({"detail": detail}, status_code=422)


def _kiln_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kiln-ml")
    except PackageNotFoundError:  # a source tree on sys.path, not installed
        return "unknown"
