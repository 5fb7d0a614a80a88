"""The API reference pages: ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc).

Both bundles come from the ``fastapi-offline`` package, installed with cutstream and
served from ``/docs/assets/``: nothing is loaded from a CDN (FastAPI's own pages pull
Swagger UI and ReDoc from jsDelivr, with no integrity hash — a third-party script on a page
of the origin that keeps the console's API key — and show a blank page offline). The pages
carry the console's Content-Security-Policy (:mod:`streams.gateway.console`): Swagger UI's
start-up call lives in a file (``/docs/start.js``, ``reference.js`` beside this module),
not inline; ReDoc writes its styles at run time, so ``/redoc`` also allows inline styles
(never inline scripts).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from starlette.staticfiles import StaticFiles

BUNDLES = Path(str(files("fastapi_offline") / "static"))
DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
ASSETS_PATH = "/docs/assets"
PATHS = (DOCS_PATH, REDOC_PATH)

_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="{assets}/favicon.png">
{extra}</head>
"""
SWAGGER_PAGE = (
    _HEAD.format(
        title="cutstream API — Swagger UI",
        assets=ASSETS_PATH,
        extra=f'<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">\n',
    )
    + f"""<body>
<div id="swagger-ui"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="{DOCS_PATH}/start.js"></script>
</body>
</html>
"""
)
REDOC_PAGE = (
    _HEAD.format(title="cutstream API — ReDoc", assets=ASSETS_PATH, extra="")
    + f"""<body>
<redoc spec-url="/openapi.json"></redoc>
<script src="{ASSETS_PATH}/redoc.standalone.js"></script>
</body>
</html>
"""
)


START = Path(__file__).with_name("reference.js")
START_PATH = f"{DOCS_PATH}/start.js"


def is_reference(path: str) -> bool:
    return path in (*PATHS, START_PATH) or path.startswith(ASSETS_PATH + "/")


def mount_reference(app: FastAPI) -> None:
    """Serve ``/docs``, ``/redoc`` and their bundles (create ``app`` with ``docs_url`` and
    ``redoc_url`` set to ``None``)."""

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return HTMLResponse(SWAGGER_PAGE)

    @app.get(START_PATH, include_in_schema=False)
    async def start() -> FileResponse:
        return FileResponse(START, media_type="text/javascript")

    @app.get(REDOC_PATH, include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return HTMLResponse(REDOC_PAGE)

    app.mount(ASSETS_PATH, StaticFiles(directory=BUNDLES), name="reference")
