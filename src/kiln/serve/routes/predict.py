"""POST /predict: JSON records or a CSV batch → predictions, probabilities and the model version."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from kiln.serve.decode import Decoded, RequestProblem, decode_records, records_from_csv, records_from_json
from kiln.serve.dependencies import current_model, get_log, get_settings, get_telemetry, require_api_key
from kiln.serve.served import PredictionTimeout, ServedModel
from kiln.serve.settings import ServeSettings
from kiln.serve.telemetry import Telemetry
from kiln.store.prediction_log import Entry, PredictionLog

router = APIRouter(dependencies=[Depends(require_api_key)])
_REQUEST_ID = re.compile(r"^[\w.:-]{1,64}$")

ROWS_BODY = {"required": True, "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}},
    "text/csv": {"schema": {"type": "string", "description": "A header row, then one row per record."}},
}}
ERRORS = {
    401: {"description": "Missing or wrong API key."},
    413: {"description": "Body or row count over the server's limit."},
    415: {"description": "A content type other than application/json or text/csv."},
    422: {"description": "A field is missing or has the wrong type; the body names the field and row.",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
    503: {"description": "No model loaded yet."},
    504: {"description": "The prediction ran past the request timeout."},
}


async def read_rows(request: Request, served: ServedModel, settings: ServeSettings) -> Decoded:
    """The request's records, decoded against the model's data contract."""
    body = await request.body()
    media = request.headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()
    if media in ("application/json", ""):
        records = records_from_json(body, max_rows=settings.max_rows, max_depth=settings.max_json_depth)
    elif media in ("text/csv", "application/csv"):
        records = records_from_csv(body, max_rows=settings.max_rows)
    else:
        raise RequestProblem(415, "content-type", f"Content type '{media[:60]}' is not accepted; send "
                             "application/json records or a text/csv batch.")
    return decode_records(records, served.model.schema)


async def run_model(served: ServedModel, decoded: Decoded, settings: ServeSettings) -> Any:
    """Small requests run right here; big ones in a worker thread, against the request timeout."""
    if decoded.n_rows <= settings.inline_rows:
        return served.predict_raw(decoded)
    deadline = time.monotonic() + settings.request_timeout_s
    try:
        return await asyncio.wait_for(run_in_threadpool(served.predict_raw, decoded, deadline),
                                      settings.request_timeout_s)
    except (TimeoutError, PredictionTimeout):
        raise RequestProblem(504, "rows", f"Predicting {decoded.n_rows:,} rows took longer than the "
                             f"{settings.request_timeout_s:g} s request timeout; send smaller batches.") from None


def request_id(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


@router.post("/predict", openapi_extra={"requestBody": ROWS_BODY}, responses=ERRORS,
             summary="Predict one or many rows")
async def predict(request: Request, served: ServedModel = Depends(current_model),
                  settings: ServeSettings = Depends(get_settings), telemetry: Telemetry = Depends(get_telemetry),
                  log: PredictionLog | None = Depends(get_log)) -> Response:
    """Body: `{"rows": [{column: value, ...}, ...]}` (or a list of records, or one record), or a CSV batch.

    Unseen categories and numbers outside the training range are accepted and counted in `counts`.
    """
    decoded = await read_rows(request, served, settings)
    raw = await run_model(served, decoded, settings)
    predictions, probabilities = served.outputs(raw)
    rid = request_id(request)
    counts = decoded.counts()
    telemetry.observe_rows(decoded.n_rows, counts)
    if log is not None:
        log.append(Entry(rid, served.name, served.version, time.time(), served.logged_columns,
                         decoded.records, predictions, probabilities))
    body = {"version": served.version, "request_id": rid, "predictions": predictions,
            "probabilities": probabilities, "counts": counts}
    return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json",
                    headers={"X-Model-Version": served.version, "X-Request-ID": rid})
