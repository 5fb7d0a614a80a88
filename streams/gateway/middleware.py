"""Headers added to every HTTP answer as it starts (ASGI middleware)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ResponseHeaders(ABC):
    """Adds headers to each HTTP answer when it starts — after the route has run, so
    :meth:`add` sees what the route left in the request's scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    @abstractmethod
    def add(self, scope: Scope, headers: MutableHeaders) -> None:
        """Add this middleware's headers to an answer of the request ``scope``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.add(scope, MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, with_headers)
