"""A small gzip ASGI middleware (no starlette here): compresses single-message text responses.

Datasette's pages, JSON and canned-query results are sent as one body message; those are compressed
when the client accepts gzip. Streamed responses (CSV export) pass through untouched.
"""

from __future__ import annotations

import gzip

COMPRESSIBLE = (b"text/", b"application/json", b"application/javascript", b"image/svg+xml")


class GZipMiddleware:
    def __init__(self, app, minimum_size: int = 1000):
        self.app = app
        self.minimum_size = minimum_size

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or b"gzip" not in dict(scope.get("headers") or []).get(b"accept-encoding", b""):
            await self.app(scope, receive, send)
            return
        start: dict | None = None
        passthrough = False

        async def wrapped(message):
            nonlocal start, passthrough
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or passthrough:
                await send(message)
                return
            headers = dict(start.get("headers") or [])
            body = message.get("body", b"")
            if (message.get("more_body") or b"content-encoding" in headers or len(body) < self.minimum_size
                    or not headers.get(b"content-type", b"").startswith(COMPRESSIBLE)):
                passthrough = True
                await send(start)
                await send(message)
                return
            data = gzip.compress(body, compresslevel=5)
            new_headers = [(k, v) for k, v in start.get("headers") or [] if k.lower() != b"content-length"]
            new_headers += [(b"content-encoding", b"gzip"), (b"content-length", str(len(data)).encode()),
                            (b"vary", b"Accept-Encoding")]
            await send({**start, "headers": new_headers})
            await send({"type": "http.response.body", "body": data})

        await self.app(scope, receive, wrapped)
