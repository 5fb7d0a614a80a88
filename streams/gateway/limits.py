"""Cap request bodies while they are read, so an oversized upload is refused early.

A declared ``Content-Length`` over the cap is refused before anything is read; a body that
streams past it is refused as soon as it does. The refusal is raised inside the route's
own body reading, so the route's error shape renders it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streams.gateway.errors import ApiError


def too_large(limit: int) -> ApiError:
    return ApiError(413, "image_too_large", f"the request body is larger than {limit:,} bytes")


class BodyLimit:
    """ASGI middleware: at most ``limit`` bytes of body per request."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        oversized = declared is not None and declared.isdigit() and int(declared) > self.limit
        received = 0

        async def limited() -> Message:
            nonlocal received
            if oversized:
                raise too_large(self.limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise too_large(self.limit)
            return message

        await self.app(scope, limited, send)
