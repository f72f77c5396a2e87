"""What every request passes before a route sees it: the Host check, the API key, the content type.

They are pure ASGI middlewares, default-deny, so a route added later is covered without
remembering a dependency:

- `HostGuard`: the Host header must be a name this server answers to (its bind address,
  `localhost`, the loopback addresses, `--allowed-hosts`). A DNS-rebinding page reaches
  127.0.0.1 under the attacker's own name, so its Host gives it away. Bound to every
  interface (0.0.0.0 / ::), any IP literal is also accepted: rebinding needs a name, and
  the addresses the machine answers on are not known in advance.
- `ApiKeyGuard`: with `--api-key`, everything but `GET /health` and the page shell (`GET /`)
  needs the key, `/openapi.json` and `/ready` included (the document names every feature,
  its range and example categories).
- `MediaTypeGuard`: a request with a body method (POST, PUT, PATCH, DELETE) must say
  `application/json` or `text/csv`. A browser sends a cross-site "simple" request (text/plain,
  form encodings, no type) without a CORS preflight; these two types always need one.

Each refusal is the API's usual JSON problem naming the field and the fix.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from typing import Any

import orjson

OPEN_ROUTES = frozenset({("GET", "/health"), ("HEAD", "/health"), ("GET", "/"), ("HEAD", "/")})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ACCEPTED_MEDIA = frozenset({"application/json", "text/csv"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


async def send_problem(send: Any, status: int, field: str, message: str,
                       headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """Answer with kiln's problem body: {"detail": [{"field", "row", "msg", "loc"}]}."""
    body = orjson.dumps({"detail": [{"field": field, "row": None, "msg": message, "loc": ["header", field]}]})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


def _header(scope: dict, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


def host_name(value: str) -> str:
    """'Example.com:8000' → 'example.com'; '[::1]:8000' → '::1'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostGuard:
    """Refuse a Host header that is not one of the server's names (400)."""

    def __init__(self, app: Any, *, bind: str, allowed: Iterable[str] = ()) -> None:
        self.app = app
        names = {*LOOPBACK_NAMES, host_name(bind)} | {host_name(name) for name in allowed}
        self.any_host = "*" in names
        self.suffixes = tuple(name[1:] for name in names if name.startswith("*."))
        self.names = frozenset(name for name in names if "*" not in name)
        self.any_ip = bind.strip("[]") in WILDCARD_BINDS

    def allows(self, host: str) -> bool:
        name = host_name(host)
        return (self.any_host or name in self.names or (bool(self.suffixes) and name.endswith(self.suffixes))
                or (self.any_ip and _is_ip(name)))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.any_host:
            await self.app(scope, receive, send)
            return
        raw = _header(scope, b"host")
        host = raw.decode("latin-1") if raw is not None else ""
        if raw is not None and not self.allows(host):  # HTTP/1.0 may omit Host; a browser never does
            await send_problem(send, 400, "host", f"Host '{host[:100]}' is not a name this server answers to; "
                               "if it is yours, start the server with --allowed-hosts NAME.")
            return
        await self.app(scope, receive, send)


def key_matches(expected: str, headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """The key from X-API-Key (or `Authorization: Bearer`), compared in constant time."""
    given: bytes | None = None
    bearer: bytes | None = None
    for name, value in headers:
        if name == b"x-api-key":
            given = value
        elif name == b"authorization" and value[:7].lower() == b"bearer ":
            bearer = value[7:]
    given = given if given is not None else bearer
    return given is not None and hmac.compare_digest(given, expected.encode("utf-8"))


class ApiKeyGuard:
    """With a key set, refuse (401) every request but GET /health and the page shell."""

    def __init__(self, app: Any, *, api_key: str | None) -> None:
        self.app = app
        self.api_key = api_key

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (scope["type"] != "http" or self.api_key is None or (scope["method"], scope["path"]) in OPEN_ROUTES
                or key_matches(self.api_key, scope.get("headers", ()))):
            await self.app(scope, receive, send)
            return
        await send_problem(send, 401, "x-api-key", "Missing or wrong API key; send it in the X-API-Key header.",
                           headers=[(b"www-authenticate", b"X-API-Key")])


def media_type(scope: dict) -> str:
    raw = _header(scope, b"content-type")
    return raw.decode("latin-1").split(";", 1)[0].strip().lower() if raw else ""


class MediaTypeGuard:
    """Refuse (415) a body-carrying request whose content type is not JSON or CSV, or is missing."""

    def __init__(self, app: Any, extra: Iterable[str] = ()) -> None:
        self.app = app
        self.accepted = ACCEPTED_MEDIA | frozenset(extra)  # a kind may take more (images: multipart/form-data)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] in BODY_METHODS:
            media = media_type(scope)
            if media not in self.accepted:
                shown = f"Content type '{media[:60]}'" if media else "A request without a Content-Type"
                await send_problem(send, 415, "content-type", f"{shown} is not accepted; send application/json "
                                   "(or text/csv where the route takes a CSV batch).")
                return
        await self.app(scope, receive, send)
