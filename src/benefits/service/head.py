"""HEAD, answered wherever GET is (RFC 9110 9.3.2: the same status and headers, no content).

FastAPI's routes answer only the methods they declare, so without this a monitor's `HEAD /health`,
or a cache revalidating a stored settlement, was 405. A HEAD request goes through the application as
a GET (the same checks, the same status, the same Content-Length) and its content is dropped here.
"""

from __future__ import annotations

HEAD_ASKED = "benefits.head"
"""Set in a request's scope when it was a HEAD: an error names the method the client sent."""


class HeadAsGet:
    """ASGI middleware: HEAD runs as GET; the response's body is not sent."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET", HEAD_ASKED: True}, receive, headers_only)


def method_of(scope) -> str:
    """The method the client sent."""
    return "HEAD" if scope.get(HEAD_ASKED) else scope["method"]


def allowed(allow: str) -> str:
    """An Allow header with HEAD wherever GET is allowed."""
    methods = [m.strip() for m in allow.split(",")]
    if "GET" in methods and "HEAD" not in methods:
        methods.insert(methods.index("GET") + 1, "HEAD")
    return ", ".join(methods)
