"""The web console: static files served at the gateway's root (``/``, assets under
``/console/``), and the security headers of every answer.

The console is plain HTML, CSS and JavaScript shipped in the package (``static/``): no
build step, no Node. It calls the same API routes as curl with the key typed into the
page, so it adds no route and no privilege. Its pages carry a strict
Content-Security-Policy — scripts and styles from this origin only, nothing inline, no
framing, fetches to this origin only; images also from ``blob:`` (results) and https
(an image given by URL).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from streams.gateway.middleware import ResponseHeaders
from streams.gateway.reference import REDOC_PATH, is_reference

STATIC = Path(str(files(__package__) / "static"))
ASSETS_PATH = "/console"

CONSOLE_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data: https:",
        "connect-src 'self'",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
"""The console's Content-Security-Policy: nothing inline, nothing from elsewhere but
images."""

REDOC_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "worker-src blob:",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
"""``/redoc``'s policy: the console's, except that ReDoc builds its styles at run time
(styled-components writes ``<style>`` elements), so inline *styles* are allowed, and runs
its search in a worker made from a ``blob:``. Scripts still come only from this origin,
and images only from it (ReDoc's footer asks cdn.redoc.ly for a logo: refused, so nothing
leaves the machine)."""

EVERY_ANSWER = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
CONSOLE_ANSWERS = {
    "Content-Security-Policy": CONSOLE_POLICY,
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def is_console(path: str) -> bool:
    return path == "/" or path.startswith(ASSETS_PATH + "/")


class SecurityHeaders(ResponseHeaders):
    """``nosniff`` and ``no-referrer`` on every answer; the console's pages and the API
    reference pages (``/docs``, ``/redoc``) also get its Content-Security-Policy and may
    not be framed."""

    def add(self, scope: Scope, headers: MutableHeaders) -> None:
        path = scope["path"]
        page = is_console(path) or is_reference(path)
        extra = EVERY_ANSWER | (CONSOLE_ANSWERS if page else {})
        if path == REDOC_PATH:
            extra["Content-Security-Policy"] = REDOC_POLICY
        for name, value in extra.items():
            headers.setdefault(name, value)


def mount_console(app: FastAPI) -> None:
    """Serve the console at ``/`` and its assets under ``/console/``."""

    @app.get("/", include_in_schema=False)
    async def console() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount(ASSETS_PATH, StaticFiles(directory=STATIC), name="console")
