"""GET /health (the process answers) and GET /ready (a warmed-up model, not draining)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from kiln.serve import lifecycle
from kiln.serve.dependencies import get_holder
from kiln.serve.holder import ModelHolder

router = APIRouter()


@router.get("/health", summary="The process is alive")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="A model is loaded and warmed up", responses={503: {"description": "Not ready."}})
async def ready(holder: ModelHolder = Depends(get_holder)) -> JSONResponse:
    if lifecycle.DRAINING.is_set():
        return JSONResponse({"status": "draining"}, status_code=503)
    served = holder.current
    if served is None:
        return JSONResponse({"status": "loading"}, status_code=503)
    return JSONResponse({"status": "ready", "version": served.version})
