"""The forecast kind's serve hook: POST /forecast, POST /feedback (actuals), GET /forecast/series, and the page.

    POST /forecast  {"ids": ["A", "B"], "h": 12}                         forecast from the stored history
                    {"series": [{"id": "A", "history": [{"time": "2024-01-01", "value": 3.1, ...}, ...]}],
                     "future": [{"id": "A", "time": "2024-02-01", "<covariate>": 1.0}, ...], "h": 12}
    POST /feedback  {"actuals": [{"id": "A", "time": "2024-02-01", "value": 3.4}, ...]}

A request the model cannot answer is a 422 naming the series and the field.
"""

from __future__ import annotations

import contextlib
import math
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import orjson
import pandas as pd
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from kiln.errors import KilnError
from kiln.serve.decode import RequestProblem
from kiln.serve.dependencies import current_model, get_settings, require_api_key
from kiln.serve.guards import media_type
from kiln.serve.routes.predict import ERRORS, read_body, request_id
from kiln.serve.served import ServedModel
from kiln.serve.settings import ServeSettings

router = APIRouter(dependencies=[Depends(require_api_key)])
page_router = APIRouter()
MAX_SERIES = 1000
MAX_POINTS = 100_000

FORECAST_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "properties": {
        "ids": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_SERIES,
                "description": "Series to forecast from the model's stored history."},
        "series": {"type": "array", "maxItems": MAX_SERIES, "items": {"type": "object", "required": ["id", "history"],
                   "properties": {"id": {"type": "string"}, "history": {"type": "array", "minItems": 3, "items": {
                       "type": "object", "required": ["time", "value"],
                       "properties": {"time": {"type": "string"}, "value": {"type": "number"}}}}}}},
        "future": {"type": "array", "items": {"type": "object", "required": ["id", "time"]},
                   "description": "Known-future covariates for each step of the horizon."},
        "h": {"type": "integer", "minimum": 1}}}}}}
FEEDBACK_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["actuals"], "properties": {"actuals": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["id", "time", "value"],
        "properties": {"id": {"type": "string"}, "time": {"type": "string"}, "value": {"type": "number"}}}}}}}}}


def _forecaster(served: ServedModel) -> Any:
    if getattr(served.model, "kind", None) != "forecast":
        raise RequestProblem(404, "body", "This server's model is not a forecaster; POST /forecast needs one.")
    return served.model


def _json(body: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestProblem(422, "body", f"The body is not valid JSON ({exc}).") from None
    if not isinstance(payload, dict):
        raise RequestProblem(422, "body", "The body must be a JSON object.")
    return payload


def _time(value: Any, where: str) -> pd.Timestamp:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise RequestProblem(422, where, f"{where} must be a timestamp like 2024-01-31.")
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise RequestProblem(422, where, f"{where} = {str(value)[:40]!r} is not a timestamp; use e.g. 2024-01-31.") \
            from None
    if stamp is pd.NaT or pd.isna(stamp):
        raise RequestProblem(422, where, f"{where} is not a timestamp; use e.g. 2024-01-31.")
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(float(value)):
        raise RequestProblem(422, where, f"{where} must be a finite number.")
    return float(value)


def parse_forecast(payload: dict[str, Any], model: Any) -> tuple[pd.DataFrame | None, pd.DataFrame | None,
                                                                  list[str] | None, int]:
    """(history or None, future or None, ids or None, h) of a /forecast body, every field checked."""
    unknown = sorted(set(payload) - {"ids", "series", "future", "h"})
    if unknown:
        raise RequestProblem(422, unknown[0], f"Unknown field {unknown[0]!r}; give ids or series, and h.")
    h = payload.get("h", model.horizon)
    if isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= model.horizon:
        raise RequestProblem(422, "h", f"h must be an integer from 1 to the trained horizon {model.horizon}.")
    ids, series = payload.get("ids"), payload.get("series")
    if (ids is None) == (series is None):
        raise RequestProblem(422, "ids", "Give either ids (series in the model's stored history) or series "
                             "(each with its recent history), not both or neither.")
    history = None
    if ids is not None:
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str | int) for i in ids):
            raise RequestProblem(422, "ids", "ids must be a non-empty list of series ids.")
        if len(ids) > MAX_SERIES:
            raise RequestProblem(413, "ids", f"At most {MAX_SERIES} series per request.")
        known = set(model.series_ids)
        missing = [str(i) for i in ids if str(i) not in known]
        if missing:
            raise RequestProblem(422, "ids", f"Series {missing[0]!r} is not in the model's stored history; send it "
                                 "under series with its recent history.")
        ids = [str(i) for i in ids]
    else:
        if not isinstance(series, list) or not series:
            raise RequestProblem(422, "series", "series must be a non-empty list of {id, history}.")
        if len(series) > MAX_SERIES:
            raise RequestProblem(413, "series", f"At most {MAX_SERIES} series per request.")
        rows: list[dict[str, Any]] = []
        covariates = list(model.info.get("covariates", []))
        for i, item in enumerate(series):
            if not isinstance(item, dict) or "id" not in item or not isinstance(item.get("history"), list):
                raise RequestProblem(422, f"series[{i}]", f"series[{i}] must be an object with id and history.")
            sid = str(item["id"])
            points = item["history"]
            if len(points) < 3:
                raise RequestProblem(422, f"series[{i}].history", f"Series {sid!r}: history needs at least 3 points.")
            for j, point in enumerate(points):
                where = f"series[{i}].history[{j}]"
                if not isinstance(point, dict):
                    raise RequestProblem(422, where, f"Series {sid!r}: {where} must be an object with time and value.")
                row = {"unique_id": sid, "ds": _time(point.get("time"), f"{where}.time"),
                       "y": _number(point.get("value"), f"{where}.value")}
                for column in covariates:
                    if column in point:
                        row[column] = _number(point[column], f"{where}.{column}")
                rows.append(row)
                if len(rows) > MAX_POINTS:
                    raise RequestProblem(413, "series", f"At most {MAX_POINTS:,} history points per request.")
        frame = pd.DataFrame(rows)
        duplicated = frame.duplicated(["unique_id", "ds"])
        if duplicated.any():
            first = frame[duplicated].iloc[0]
            raise RequestProblem(422, "series", f"Series {first['unique_id']!r} repeats time {first['ds']}.")
        try:
            from kiln.forecasters.data import regular

            history = regular(frame.sort_values(["unique_id", "ds"]), model.freq,
                              [c for c in covariates if c in frame.columns]).frame
        except KilnError as exc:
            raise RequestProblem(422, "series", str(exc)) from None
    future = None
    if payload.get("future") is not None:
        given = payload["future"]
        if not isinstance(given, list):
            raise RequestProblem(422, "future", "future must be a list of {id, time, covariates}.")
        rows = []
        for j, point in enumerate(given[:MAX_POINTS]):
            where = f"future[{j}]"
            if not isinstance(point, dict) or "id" not in point:
                raise RequestProblem(422, where, f"{where} must be an object with id and time.")
            row = {"unique_id": str(point["id"]), "ds": _time(point.get("time"), f"{where}.time")}
            for column in model.known_future:
                if column in point:
                    row[column] = _number(point[column], f"{where}.{column}")
            rows.append(row)
        future = pd.DataFrame(rows)
    return history, future, ids, h


def _answer(model: Any, history: pd.DataFrame | None, future: pd.DataFrame | None, ids: list[str] | None,
            h: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(answers, log rows); a series forecast from the stored history is answered from a per-(id, h) cache."""
    if history is None and future is None and ids is not None:  # from the stored history: the same every time
        cache = model.__dict__.setdefault("_serve_answers", {})
        missing = [sid for sid in ids if (sid, h) not in cache]
        if missing:
            found, rows = _answer_fresh(model, None, None, missing, h)
            for answer in found:
                cache[(answer["id"], h)] = (answer, [r for r in rows if r["series"] == answer["id"]])
        return [cache[(sid, h)][0] for sid in ids], [row for sid in ids for row in cache[(sid, h)][1]]
    return _answer_fresh(model, history, future, ids, h)


def _answer_fresh(model: Any, history: pd.DataFrame | None, future: pd.DataFrame | None, ids: list[str] | None,
                  h: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from kiln.forecasters.model import QUANTILE_COLUMNS

    try:
        out = model.forecast(history, future=future, h=h, ids=ids)
    except KilnError as exc:
        raise RequestProblem(422, "future" if "future" in str(exc) else "series", str(exc)) from None
    answers, logged = [], []
    for sid, part in out.groupby("unique_id", sort=False):
        times = [t.isoformat() for t in part["ds"]]
        prediction = part["prediction"].to_numpy(dtype="float64")
        quantiles = part[list(QUANTILE_COLUMNS)].to_numpy(dtype="float64")
        answers.append({"id": sid, "time": times, "prediction": np.round(prediction, 6).tolist(),
                        "quantiles": {c.removeprefix("quantile_"): np.round(quantiles[:, k], 6).tolist()
                                      for k, c in enumerate(QUANTILE_COLUMNS)}})
        origin, scale = _origin_and_scale(model, history, str(sid))
        logged.extend({"series": str(sid), "origin": origin, "ds": times[step], "step": step + 1,
                       "prediction": float(prediction[step]), "quantiles": quantiles[step].tolist(), "scale": scale}
                      for step in range(len(times)))
    return answers, logged


def _origin_and_scale(model: Any, history: pd.DataFrame | None, sid: str) -> tuple[str, float]:
    """The series' last time and MASE's scale for it (kept per stored series: serving by id does not recompute)."""
    from kiln.forecasters.model import insample_scale

    if history is None:
        cache = model.__dict__.setdefault("_serve_scales", {})
        if sid not in cache:
            y = model.context.loc[model.context["unique_id"] == sid]
            cache[sid] = (y["ds"].iloc[-1].isoformat(), insample_scale(y["y"].to_numpy(dtype="float64"), model.m))
        return cache[sid]
    y = history.loc[history["unique_id"] == sid]
    return y["ds"].iloc[-1].isoformat(), insample_scale(y["y"].to_numpy(dtype="float64"), model.m)


@router.post("/forecast", openapi_extra={"requestBody": FORECAST_BODY}, responses=ERRORS,
             summary="Forecast series h steps ahead with quantiles")
async def forecast(request: Request, served: ServedModel = Depends(current_model),
                   settings: ServeSettings = Depends(get_settings)) -> Response:
    model = _forecaster(served)
    if media_type(request.scope) != "application/json":
        raise RequestProblem(415, "content-type", "POST /forecast takes application/json.")
    payload = _json(await read_body(request, settings))
    if payload.get("series") is None and payload.get("future") is None and len(payload.get("ids") or ()) <= 10:
        # a few ids: sliced from the stored forecast in about a millisecond, no thread hop
        history, future, ids, h = parse_forecast(payload, model)
        answers, logged = _answer(model, history, future, ids, h)
    else:
        history, future, ids, h = await run_in_threadpool(parse_forecast, payload, model)
        answers, logged = await run_in_threadpool(_answer, model, history, future, ids, h)
    rid = request_id(request)
    body = {"version": served.version, "request_id": rid, "h": h, "forecasts": answers}
    background = None
    if settings.log_predictions:  # written after the response is sent: the client does not wait for the log
        from starlette.background import BackgroundTask

        background = BackgroundTask(_log_quietly, served.name, served.version, rid, logged)
    return Response(orjson.dumps(body), media_type="application/json", background=background,
                    headers={"X-Model-Version": served.version, "X-Request-ID": rid})


def _log_quietly(name: str, version: str, rid: str, rows: list[dict[str, Any]]) -> None:
    """The forecast log is for monitoring; a database hiccup must not fail the server."""
    from kiln.store.forecast_log import log_forecasts

    with contextlib.suppress(Exception):
        log_forecasts(name, version, rid, rows)


@router.post("/feedback", openapi_extra={"requestBody": FEEDBACK_BODY}, responses=ERRORS,
             summary="Record observed values of forecast series")
async def feedback(request: Request, served: ServedModel = Depends(current_model),
                   settings: ServeSettings = Depends(get_settings)) -> dict[str, Any]:
    _forecaster(served)
    if media_type(request.scope) != "application/json":
        raise RequestProblem(415, "content-type", "POST /feedback takes application/json.")
    payload = _json(await read_body(request, settings))
    given = payload.get("actuals")
    if not isinstance(given, list) or not given:
        raise RequestProblem(422, "actuals", 'Give "actuals": [{"id": ..., "time": ..., "value": ...}].')
    rows = []
    for i, item in enumerate(given[:MAX_POINTS]):
        where = f"actuals[{i}]"
        if not isinstance(item, dict) or "id" not in item:
            raise RequestProblem(422, where, f"{where} must be an object with id, time and value.")
        rows.append({"series": str(item["id"]), "ds": _time(item.get("time"), f"{where}.time").isoformat(),
                     "value": _number(item.get("value"), f"{where}.value")})
    from kiln.store.forecast_log import record_actuals

    recorded = await run_in_threadpool(record_actuals, served.name, rows)
    return {"recorded": recorded, "model": served.name}


@router.get("/forecast/series", summary="The series the model can forecast from its stored history")
async def series(served: ServedModel = Depends(current_model)) -> dict[str, Any]:
    model = _forecaster(served)
    tail = model.context.groupby("unique_id", sort=False).tail(4 * model.horizon)
    return {"horizon": model.horizon, "frequency": model.freq, "target": model.target,
            "series": {str(k): {"time": [t.isoformat() for t in g["ds"]], "value": g["y"].round(6).tolist()}
                       for k, g in tail.groupby("unique_id", sort=False)}}


@cache
def _page() -> str:
    return resources.files("kiln.serve").joinpath("page/forecast.html").read_text(encoding="utf-8")


@page_router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse(_page(), headers={"Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
                                          "style-src 'unsafe-inline'; img-src 'self' data:"})


class ForecastService:
    routers: tuple[APIRouter, ...] = (page_router, router)

    def request_schemas(self, model: Any, max_rows: int) -> dict[str, Any]:
        return {"ForecastRequest": FORECAST_BODY["content"]["application/json"]["schema"],
                "ActualsRequest": FEEDBACK_BODY["content"]["application/json"]["schema"]}


SERVICE = ForecastService()
