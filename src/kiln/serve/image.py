"""The image kind's serve hook: POST /predict takes images, GET /metadata describes the classifier, GET / is
a page where a person drops an image and sees the answer; POST /feedback is the tabular kind's (labels by
request id and row).

Bodies: `multipart/form-data` with one or more file parts (any field name), or JSON
`{"image": "<base64>"}` / `{"images": ["<base64>", ...]}`. Limits: the body size (`--max-body-bytes`,
413 before it is read), images per request (`--max-rows`, 413), pixels per image
(`KILN_SERVE_MAX_IMAGE_PIXELS`, 413, checked from the header before decoding); a part that is not an
image Pillow reads is 422 naming it. A multipart form can be posted cross-site without a CORS
preflight (the media-type guard refuses such types elsewhere); here it only gets a prediction, and
with --api-key it needs the key like every route.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import time
from functools import cache
from importlib import resources
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from kiln.serve.decode import RequestProblem
from kiln.serve.dependencies import current_model, get_log, get_settings, get_telemetry, require_api_key
from kiln.serve.routes import feedback
from kiln.serve.routes.predict import off_the_loop, read_body, request_id
from kiln.serve.served import ServedModel, compile_fast_path
from kiln.serve.settings import ServeSettings
from kiln.serve.telemetry import Telemetry
from kiln.store.prediction_log import Entry, PredictionLog
from kiln.vision.stats import STATISTICS, image_statistics

router = APIRouter(dependencies=[Depends(require_api_key)])
page_router = APIRouter()
MAX_PIXELS_ENV = "KILN_SERVE_MAX_IMAGE_PIXELS"
DEFAULT_MAX_PIXELS = 16_000_000  # a 4000×4000 photo; a classifier resizes to at most 64×64
MEDIA = ("multipart/form-data", "application/json")

IMAGE_BODY = {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary", "description": "An image (PNG, JPEG, WebP, BMP)."}}}},
    "application/json": {"schema": {"$ref": "#/components/schemas/ImageRequest"}},
}}
ERRORS = {413: {"description": "Body, image count or pixel count over the server's limit."},
          415: {"description": "A content type other than multipart/form-data or application/json."},
          422: {"description": "A part that is not an image, or bad base64; the body names it."},
          503: {"description": "No model loaded yet."}}


def max_pixels() -> int:
    return int(os.environ.get(MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS))


def image_kind(served: ServedModel) -> Any:
    if getattr(served.model, "kind", None) != "image":
        raise RequestProblem(422, "model", f"This server serves a {served.model.kind} model; POST images only to "
                             "an image model's server.")
    return served.model


async def read_images(request: Request, settings: ServeSettings) -> list[tuple[str, bytes]]:
    """(name, bytes) of each image in the body, within the server's limits."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "multipart/form-data":
        try:
            form = await request.form(max_files=settings.max_rows + 1, max_fields=settings.max_rows + 1)
        except Exception as exc:  # python-multipart's own refusals: too many parts, a malformed body
            raise RequestProblem(422 if "Too many" not in str(exc) else 413, "body",
                                 f"The multipart body cannot be read ({' '.join(str(exc).split())[:120]}).") from None
        parts = [(value.filename or key, await value.read()) for key, value in form.multi_items()
                 if hasattr(value, "read")]
        await form.close()
    elif media == "application/json":
        body = await read_body(request, settings)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise RequestProblem(422, "body", f"The body is not valid JSON ({exc}).") from None
        items = payload.get("images", [payload.get("image")] if "image" in payload else None) \
            if isinstance(payload, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise RequestProblem(422, "images", 'Send {"image": "<base64>"} or {"images": ["<base64>", ...]}.')
        parts = []
        for i, text in enumerate(items[: settings.max_rows + 1]):
            try:
                parts.append((f"images[{i}]", base64.b64decode(text.split(",", 1)[-1], validate=True)))
            except (binascii.Error, ValueError):
                raise RequestProblem(422, f"images[{i}]", f"images[{i}] is not valid base64.") from None
    else:
        raise RequestProblem(415, "content-type", f"Content type '{media[:60]}' is not accepted; send the image as "
                             "multipart/form-data or JSON with base64.")
    if not parts:
        raise RequestProblem(422, "images", "The request holds no image; attach a file or send base64.")
    if len(parts) > settings.max_rows:
        raise RequestProblem(413, "images", f"{len(parts)} images in one request; the limit is {settings.max_rows}.")
    return parts


def decode(parts: list[tuple[str, bytes]]) -> list[Any]:
    """Pillow images, each checked: an image, and within the pixel limit (read from its header first)."""
    from PIL import Image

    from kiln.vision.read import ImageReadError, open_image

    limit = max_pixels()
    images = []
    for name, data in parts:
        try:
            with Image.open(io.BytesIO(data)) as probe:
                pixels = probe.width * probe.height
        except Exception:
            pixels = 0  # not an image: open_image names it below
        if pixels > limit:
            raise RequestProblem(413, name, f"{name} has {pixels:,} pixels; the limit is {limit:,} "
                                 f"({MAX_PIXELS_ENV}). Shrink it before sending.")
        try:
            images.append(open_image(data, name))
        except ImageReadError as exc:
            status = 413 if "pixels" in str(exc) else 422
            raise RequestProblem(status, name, str(exc)) from None
    return images


@router.post("/predict", openapi_extra={"requestBody": IMAGE_BODY}, responses=ERRORS, summary="Classify images")
async def predict_images(request: Request, served: ServedModel = Depends(current_model),
                         settings: ServeSettings = Depends(get_settings),
                         telemetry: Telemetry = Depends(get_telemetry),
                         log: PredictionLog | None = Depends(get_log)) -> Response:
    """Each image's class and probabilities by class, in the order sent."""
    model = image_kind(served)
    parts = await read_images(request, settings)
    request.state.deadline = getattr(request.state, "deadline", None) or time.monotonic() + settings.request_timeout_s
    images, arrays, proba = await off_the_loop(request, settings, "Classifying the images", _classify, model, parts)
    frame = model.frame_of(proba)
    predictions = frame["prediction"].tolist()
    probabilities = [dict(zip(model.classes_, row, strict=True)) for row in proba.tolist()]
    rid = request_id(request)
    telemetry.observe_rows(len(images), {"unseen_categories": {}, "out_of_range": {}})
    if log is not None:
        records = [image_statistics(im, a) for im, a in zip(images, arrays, strict=True)]
        log.append(Entry(rid, served.name, served.version, time.time(), STATISTICS, records, predictions,
                         probabilities))
    body = {"version": served.version, "request_id": rid, "predictions": predictions,
            "probabilities": probabilities, "names": [name for name, _ in parts]}
    return Response(orjson.dumps(body), media_type="application/json",
                    headers={"X-Model-Version": served.version, "X-Request-ID": rid})


def _classify(model: Any, parts: list[tuple[str, bytes]]) -> tuple[list, Any, Any]:
    images = decode(parts)
    arrays = model.recipe.arrays(images)
    return images, arrays, model.proba_arrays(arrays)


@router.get("/metadata", summary="The classifier: classes, input rule, scores, version")
async def metadata(served: ServedModel = Depends(current_model)) -> dict[str, Any]:
    model = image_kind(served)
    manifest = model.manifest
    return {"kind": "image", "version": served.version, "name": served.name, "classes": model.classes_,
            "recipe": model.recipe.to_dict(), "metric": model.metric, "cv": manifest.get("cv"),
            "network_weight": model.network_weight, "pixel_weight": model.pixel_weight,
            "feature_weight": model.feature_weight, "max_image_pixels": max_pixels()}


@cache
def _page() -> str:
    return resources.files("kiln.serve").joinpath("page/image.html").read_text(encoding="utf-8")


@page_router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse(_page(), headers={"Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
                                          "style-src 'unsafe-inline'; img-src 'self' data: blob:"})


class ImageService:
    """Images in, classes and probabilities out (kiln.serve.kind.Service)."""

    routers: tuple[APIRouter, ...] = (page_router, router, feedback.router)
    media_types = frozenset(MEDIA)  # what the media-type guard lets through for this kind

    def prepare(self, model: Any) -> None:
        """Compile the feature model's numpy fast path (checked against it on synthetic rows): one 64×64 image
        took 1.2 s through pandas' column-by-column conversion of its 1,700 feature columns on busy cores."""
        model.feature_predictor = compile_fast_path(model.features)

    def request_schemas(self, model: Any, max_rows: int) -> dict[str, Any]:
        return {"ImageRequest": {"type": "object", "properties": {
            "image": {"type": "string", "contentEncoding": "base64", "description": "One image, base64."},
            "images": {"type": "array", "maxItems": max_rows,
                       "items": {"type": "string", "contentEncoding": "base64"}}}}}


SERVICE = ImageService()
