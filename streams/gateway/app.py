"""The FastAPI application: routes of every shape, errors in each shape, body limits."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException

from schemas.api.native import JobCreate
from schemas.batches import BatchCreate
from schemas.errors import CutstreamError
from streams.config.settings import Settings
from streams.gateway.console import SecurityHeaders, mount_console
from streams.gateway.deps import invalid_request
from streams.gateway.errors import ApiError, from_cutstream, render, shape_for
from streams.gateway.limits import BodyLimit
from streams.gateway.metering import RateLimitHeaders
from streams.gateway.reference import mount_reference
from streams.gateway.routes import account, batches, compat, models, native
from streams.gateway.service import Gateway

log = logging.getLogger(__name__)

DESCRIPTION = """
Background removal as a service. One pipeline behind several API shapes:

* **native** — `POST /v1/jobs` (async: poll or webhook), `POST /v1/remove-background` (sync);
* the hosted-API shapes users already speak: `/v1/remove-bg`, `/v2/artworks/…`,
  `/v1/remove`, `/api/v1/…`, `/v2/rembg/…`.

Authenticate with `Authorization: Bearer <key>` or an `ApiKey: <key>` header
(keys: `cutstream keys create`).
"""


BODY_MODELS: tuple[type[BaseModel], ...] = (JobCreate, BatchCreate)
"""Bodies routes read themselves (JSON or a multipart form), named by ``$ref`` in their
``openapi_extra``: FastAPI adds a model to the schema's components only for a body
parameter it parses, so these are added by :func:`with_body_schemas`."""


def with_body_schemas(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document carry :data:`BODY_MODELS` (and what they use) in its
    components, so every ``$ref`` in it resolves (ReDoc refuses a document that does not)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        if not all(model.__name__ in components for model in BODY_MODELS):
            _, extra = models_json_schema(
                [(model, "validation") for model in BODY_MODELS],
                ref_template="#/components/schemas/{model}",
            )
            for name, definition in extra.get("$defs", {}).items():
                components.setdefault(name, definition)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def body_limit(settings: Settings) -> int:
    """Largest request body: the image limit inflated by base64, plus form overhead."""
    return settings.limits.max_input_bytes * 4 // 3 + 64 * 1024


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = Gateway(settings)
        await service.start()
        app.state.gateway = service
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="cutstream",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from installed bundles instead: streams.gateway.reference
        redoc_url=None,
    )
    mount_reference(app)
    with_body_schemas(app)
    app.include_router(native.router)
    app.include_router(batches.router)
    app.include_router(account.router)
    app.include_router(models.router)
    for router in compat.ROUTERS:
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return render(shape_for(request.url.path), exc)

    @app.exception_handler(CutstreamError)
    async def cutstream_error(request: Request, exc: CutstreamError) -> JSONResponse:
        return render(shape_for(request.url.path), from_cutstream(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return render(shape_for(request.url.path), invalid_request(exc.errors(), "request"))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, ApiError):
            # FastAPI wraps what fails while it parses a form body (our body limit among
            # it) into a bare 400; answer with what actually happened.
            return render(shape_for(request.url.path), exc.__cause__)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return render(shape_for(request.url.path), ApiError(exc.status_code, code, str(exc.detail)))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        error = ApiError(500, "internal_error", "internal error; it has been logged")
        return render(shape_for(request.url.path), error)

    if settings.gateway.console:
        mount_console(app)
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, limit=body_limit(settings))
    if settings.gateway.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.gateway.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "ApiKey", "Content-Type"],
        )
    return app


def run_gateway(settings: Settings) -> None:
    """Serve the gateway with uvicorn until SIGTERM/SIGINT."""
    uvicorn.run(
        create_app(settings),
        host=settings.gateway.host,
        port=settings.gateway.port,
        log_level=settings.runtime.log_level,
        proxy_headers=True,
    )
