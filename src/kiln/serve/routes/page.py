"""GET /: the web page (one self-contained file shipped in the package; no CDN, no client paths)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()


@cache
def _page() -> str:
    return resources.files("kiln.serve").joinpath("page/index.html").read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse(_page(), headers={"Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
                                          "style-src 'unsafe-inline'; img-src 'self' data:"})
