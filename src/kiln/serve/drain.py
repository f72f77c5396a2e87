"""During the SIGTERM drain every response says `Connection: close` (a pure ASGI middleware).

A client that reuses a keep-alive connection would otherwise send its next request on a
connection the server is about to close: when the close and the request cross, the client
sees a reset. With `Connection: close` on every response of the drain, uvicorn closes the
connection itself after that response, and the client opens a new one for its next request
(to this server while it still listens, else to another replica).
"""

from __future__ import annotations

from typing import Any

from kiln.serve import lifecycle

CLOSE = (b"connection", b"close")


class CloseWhileDraining:
    """Adds `Connection: close` to responses while `lifecycle.DRAINING` is set."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def closing(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and lifecycle.DRAINING.is_set():
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, CLOSE]}
            await send(message)

        await self.app(scope, receive, closing)
