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


async def read_body(request: Request, settings: ServeSettings) -> bytes:
    """The whole body within the body timeout (a client trickling it in gets 408); then starts the
    request's deadline, which parsing, checking and predicting share."""
    from starlette.requests import ClientDisconnect

    try:
        body = await asyncio.wait_for(request.body(), settings.body_timeout_s)
    except ClientDisconnect:  # no one is left to answer; end the request quietly
        raise RequestProblem(400, "body", "The client closed the connection before sending the whole body.") from None
    except TimeoutError:
        raise RequestProblem(408, "body", f"The body did not arrive within {settings.body_timeout_s:g} s of its "
                             "headers; send it at once.") from None
    request.state.deadline = time.monotonic() + settings.request_timeout_s
    return body


def remaining(request: Request, settings: ServeSettings) -> float:
    """Seconds left of this request's timeout."""
    deadline = getattr(request.state, "deadline", None)
    return settings.request_timeout_s if deadline is None else max(deadline - time.monotonic(), 0.0)


async def off_the_loop(request: Request, settings: ServeSettings, what: str, function: Any, *args: Any,
                       **kwargs: Any) -> Any:
    """Run `function` in a worker thread within the request's remaining time (504 past it), so a
    slow parse never stops the event loop from answering other requests, /health included."""
    try:
        return await asyncio.wait_for(run_in_threadpool(function, *args, **kwargs), remaining(request, settings))
    except TimeoutError:
        raise RequestProblem(504, "rows", f"{what} took longer than the {settings.request_timeout_s:g} s request "
                             "timeout; send smaller batches.") from None


async def read_rows(request: Request, served: ServedModel, settings: ServeSettings) -> Decoded:
    """The request's records, decoded against the model's data contract.

    Small JSON bodies are parsed right here (microseconds); CSV and large JSON bodies in a
    worker thread, against the request timeout.
    """
    body = await read_body(request, settings)
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "application/json":
        if len(body) <= settings.inline_body_bytes:
            records = records_from_json(body, max_rows=settings.max_rows, max_depth=settings.max_json_depth,
                                        max_columns=settings.max_columns)
        else:
            records = await off_the_loop(request, settings, "Parsing the JSON body", records_from_json, body,
                                         max_rows=settings.max_rows, max_depth=settings.max_json_depth,
                                         max_columns=settings.max_columns)
    elif media == "text/csv":
        records = await off_the_loop(request, settings, "Parsing the CSV body", records_from_csv, body,
                                     max_rows=settings.max_rows, max_columns=settings.max_columns,
                                     max_cells=settings.max_cells)
    else:  # guards.MediaTypeGuard has already refused the rest; this keeps the route safe on its own
        raise RequestProblem(415, "content-type", f"Content type '{media[:60]}' is not accepted; send "
                             "application/json records or a text/csv batch.")
    if len(records) <= settings.inline_rows:
        decoded = decode_records(records, served.model.schema)
    else:
        decoded = await off_the_loop(request, settings, "Checking the rows", decode_records, records,
                                     served.model.schema)
    if media == "application/json":
        decoded.body = body
    return decoded


async def run_model(request: Request, served: ServedModel, decoded: Decoded, settings: ServeSettings) -> Any:
    """Small requests run right here; big ones in a worker thread, against the request's remaining time."""
    if decoded.n_rows <= settings.inline_rows:
        batcher = getattr(request.app.state, "batcher", None)
        return served.predict_raw(decoded) if batcher is None else await batcher.predict(served, decoded)
    budget = remaining(request, settings)
    try:
        return await asyncio.wait_for(run_in_threadpool(served.predict_raw, decoded, time.monotonic() + budget),
                                      budget)
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
    batcher = getattr(request.app.state, "batcher", None)
    if batcher is not None:
        batcher.enter()
    try:
        decoded = await read_rows(request, served, settings)
        texts = served.model.schema.of_kind("text")
        if texts:  # lengths and control characters (kiln.serve.text)
            from kiln.serve.text import check_texts

            check_texts(decoded, texts)
        raw = await run_model(request, served, decoded, settings)
    finally:
        if batcher is not None:
            batcher.leave()
    predictions, probabilities = served.outputs(raw)
    rid = request_id(request)
    counts = decoded.counts()
    telemetry.observe_rows(decoded.n_rows, counts)
    if log is not None:  # a full queue holds the answer back until the writer catches up (back-pressure)
        await log.put(Entry(rid, served.name, served.version, time.time(), served.logged_columns, decoded.records,
                            predictions, probabilities, decoded.body),
                      min(settings.log_wait_s, remaining(request, settings)))
    body = {"version": served.version, "request_id": rid, "predictions": predictions,
            "probabilities": probabilities, "counts": counts}
    if texts and probabilities is not None:  # label, confidence, top-3, out_of_scope per row
        from kiln.serve.text import answers

        body["answers"] = answers(served, raw)
    return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json",
                    headers={"X-Model-Version": served.version, "X-Request-ID": rid})
