"""GET /metrics (Prometheus text) and GET /stats (the page's live panel, JSON)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from kiln.serve.dependencies import get_holder, get_log, get_telemetry, require_api_key
from kiln.serve.holder import ModelHolder
from kiln.serve.telemetry import Telemetry
from kiln.store.prediction_log import PredictionLog

router = APIRouter(dependencies=[Depends(require_api_key)])


@router.get("/metrics", summary="Prometheus metrics: requests, latency histogram, errors, rows",
            response_class=Response, responses={401: {"description": "Missing or wrong API key."}})
async def metrics(telemetry: Telemetry = Depends(get_telemetry)) -> Response:
    return Response(telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)


@router.get("/stats", summary="Request counts and recent latency percentiles of this worker",
            responses={401: {"description": "Missing or wrong API key."}})
async def stats(request: Request, telemetry: Telemetry = Depends(get_telemetry),
                holder: ModelHolder = Depends(get_holder),
                log: PredictionLog | None = Depends(get_log)) -> dict[str, Any]:
    summary = telemetry.summary()
    batcher = getattr(request.app.state, "batcher", None)
    summary["batching"] = {"batches": batcher.batches, "requests": batcher.batched_requests} if batcher else None
    summary["version"] = holder.current.version if holder.current else None
    summary["swaps"] = holder.swaps
    summary["log"] = {"written": log.written, "dropped": log.dropped, "queued": log.queued, "waits": log.waits,
                      "waited_s": round(log.waited_s, 3)} if log else None
    return summary
