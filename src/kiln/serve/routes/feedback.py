"""POST /feedback: true labels that arrive after the prediction, for live performance."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from kiln.serve.decode import RequestProblem
from kiln.serve.dependencies import current_model, get_settings, require_api_key
from kiln.serve.guards import media_type
from kiln.serve.routes.predict import ERRORS, off_the_loop, read_body
from kiln.serve.served import ServedModel
from kiln.serve.settings import ServeSettings

router = APIRouter(dependencies=[Depends(require_api_key)])

FEEDBACK_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["labels"], "properties": {
        "id_column": {"type": "string", "description": "Match labels by this logged input column's value."},
        "labels": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["label"], "properties": {
            "request_id": {"type": "string"}, "row": {"type": "integer", "minimum": 0},
            "id": {"type": ["string", "integer"]}, "label": {"type": ["string", "number", "boolean"]}}}}}}}}}


@router.post("/feedback", openapi_extra={"requestBody": FEEDBACK_BODY}, responses=ERRORS,
             summary="Record true labels of served predictions")
async def post_feedback(request: Request, served: ServedModel = Depends(current_model),
                        settings: ServeSettings = Depends(get_settings)) -> dict[str, Any]:
    """`{"labels": [{"request_id": "...", "row": 0, "label": 1}]}`, or with `"id_column": "UDI"` and
    `{"id": 17, "label": 1}` items to match rows by an id the client sent with them."""
    from kiln.store.feedback import record_labels

    if media_type(request.scope) != "application/json":
        raise RequestProblem(415, "content-type", "POST /feedback takes application/json only; send "
                             '{"labels": [...]} as JSON.')
    body = await read_body(request, settings)
    classes = [str(c) for c in served.model.classes_] if served.model.classes_ else None
    if len(body) <= settings.inline_body_bytes:
        labels = _labels(body, settings.max_rows, classes)
    else:
        labels = await off_the_loop(request, settings, "Parsing the labels", _labels, body, settings.max_rows, classes)
    recorded = await run_in_threadpool(record_labels, served.name, labels)
    return {"recorded": recorded, "model": served.name}


ROW_LIMIT = 2**63 - 1  # the database stores row numbers as signed 64-bit integers


def _labels(body: bytes, max_rows: int, classes: list[str] | None) -> list:
    """The labels of a feedback body, each checked: a row number the database can hold, and a
    label the model can predict (one of its classes, or a finite number for a regressor)."""
    from kiln.store.feedback import Label

    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestProblem(422, "body", f"The body is not valid JSON ({exc}).") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("labels"), list) or not payload["labels"]:
        raise RequestProblem(422, "labels", 'Send {"labels": [{"request_id": "...", "row": 0, "label": 1}, ...]}.')
    items = payload["labels"]
    if len(items) > max_rows:
        raise RequestProblem(413, "labels", f"{len(items):,} labels exceed the limit of {max_rows:,} per request.")
    id_column = payload.get("id_column")
    if id_column is not None and not isinstance(id_column, str):
        raise RequestProblem(422, "id_column", "id_column must be the name of a column, as text.")
    labels = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not _scalar(item.get("label")):
            raise RequestProblem(422, "label", f"Label {i} needs a 'label' (text, number or true/false).", i)
        request_id, row, key = item.get("request_id"), item.get("row", 0), item.get("id")
        if type(row) is not int or not 0 <= row <= ROW_LIMIT:
            raise RequestProblem(422, "row", f"Label {i}: 'row' must be a row number (0 to 2^63 - 1).", i)
        _check_label(item["label"], classes, i)
        if isinstance(request_id, str) and 0 < len(request_id) <= 64:
            labels.append(Label(item["label"], request_id=request_id, row=row))
        elif id_column and _scalar(key) and len(str(key)) <= 256:
            labels.append(Label(item["label"], id_column=id_column, key=key))
        else:
            raise RequestProblem(422, "request_id", f"Label {i} needs a 'request_id' (from /predict), or an 'id' "
                                 "with a top-level 'id_column'.", i)
    return labels


def _check_label(label: Any, classes: list[str] | None, i: int) -> None:
    if classes is None:
        if type(label) not in (int, float) or label != label or label in (float("inf"), float("-inf")):
            raise RequestProblem(422, "label", f"Label {i} must be a finite number (this model is a regressor); "
                                 f"got {str(label)[:40]!r}.", i)
        return
    spellings = {str(label)}
    if isinstance(label, bool) or (isinstance(label, float) and label.is_integer()):  # True is class 1, 1.0 is 1
        spellings.add(str(int(label)))
    if not spellings & set(classes):
        shown = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
        raise RequestProblem(422, "label", f"Label {i} is {str(label)[:40]!r}, which is not one of the model's "
                             f"classes ({shown}); send one of them.", i)


def _scalar(value: Any) -> bool:
    return (isinstance(value, str | bool | int) or (isinstance(value, float) and value == value)) and \
        not (isinstance(value, str) and (not value or "\x00" in value))
