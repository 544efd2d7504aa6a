"""The application factory: ``create_app(settings)`` assembles the HTTP service.

The lifespan opens the store (running migrations) and builds the
:class:`~sharedsky.services.strategic.StrategicService`; nothing happens at import time.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from sharedsky import __version__
from sharedsky.api.auth import TokenVerifier, load_public_keys
from sharedsky.api.dss.fast_lane import DssFastLane
from sharedsky.api.dss.routes import router as dss_router
from sharedsky.api.dss.schemas import VersionResponse
from sharedsky.api.errors import BodySizeLimit, install_error_handlers
from sharedsky.api.live import live_lifespan
from sharedsky.api.live import router as live_router
from sharedsky.api.live.routes import SCOPE_PICTURE_READ, SCOPE_TRACKS_WRITE
from sharedsky.api.ratelimit import RateLimiter
from sharedsky.config import Settings

__all__ = ["WORKER_THREADS", "create_app", "create_app_from_env"]

log = logging.getLogger("sharedsky.api")

WORKER_THREADS = 16
"""Threads that run the synchronous handlers (and their database transactions) per process:
the store's connection pool size (:data:`sharedsky.store.engine.POOL_SIZE`). A write waiting
for its area lock holds one; more threads only add contention for the interpreter lock."""

_SECURITY_SCHEMES: dict[str, Any] = {
    "Authority": {
        "type": "oauth2",
        "description": (
            "RS256 JSON Web Tokens sent as 'Authorization: Bearer <token>': claims iss, exp "
            "(at most 1 hour ahead), sub (the client, which becomes the manager of what it "
            "writes), scope (space-separated), aud (the host name of this server)."
        ),
        "flows": {
            "clientCredentials": {
                "tokenUrl": "https://auth.example.com/oauth/token",
                "scopes": {
                    "utm.strategic_coordination": "Strategic coordination.",
                    "utm.constraint_management": "Create, edit and delete constraints.",
                    "utm.constraint_processing": "Read constraints.",
                    "utm.conformance_monitoring_sa": "Conformance monitoring for SA.",
                    "utm.availability_arbitration": "Set the availability of USSs.",
                    SCOPE_TRACKS_WRITE: "Push own tracks and link them to own plans (live).",
                    SCOPE_PICTURE_READ: "Read the live picture, alerts, feeds and configuration.",
                },
            }
        },
    }
}


# FastAPI's native OpenTelemetry instrumentation (FastAPI versions that have it): every request
# asks the OpenTelemetry API whether a provider is configured, which costs more CPU than the
# rest of a small request's routing. Off unless the settings ask for it.
_TELEMETRY_OFF = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}
_HAS_TELEMETRY = "telemetry" in inspect.signature(FastAPI.__init__).parameters


def _telemetry_option(settings: Settings) -> dict[str, Any]:
    if settings.open_telemetry or not _HAS_TELEMETRY:
        return {}
    return {"telemetry": dict(_TELEMETRY_OFF)}


_FASTAPI_VALIDATION_ERROR = "#/components/schemas/HTTPValidationError"


def _drop_fastapi_validation_responses(schema: dict[str, Any]) -> None:
    """Take out the 422 "Validation Error" that FastAPI documents on every operation with a
    parameter or a body: this server answers invalid requests with 400 and an
    ``ErrorResponse`` (:mod:`sharedsky.api.errors`), as utm.yaml says, never with that 422."""
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses", {})
            content = responses.get("422", {}).get("content", {})
            if (
                content.get("application/json", {}).get("schema", {}).get("$ref")
                == _FASTAPI_VALIDATION_ERROR
            ):
                del responses["422"]
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


def create_app_from_env() -> FastAPI:
    """``create_app(Settings.from_env())``: the factory that ``sharedsky serve --workers N``
    gives uvicorn, which builds the app in each worker process from ``SHAREDSKY_*``."""
    return create_app(Settings.from_env())


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the sharedsky HTTP application for ``settings`` (``Settings()`` if not given).

    Public keys are read here, so an unreadable key fails before the server starts
    (:class:`~sharedsky.errors.InvalidInput` naming the file). The store is opened in the
    lifespan, i.e. when the server (or a ``TestClient`` context) starts.
    """
    settings = settings or Settings()
    keys = load_public_keys(settings.public_key_pems)
    if not keys:
        log.warning(
            "no public key configured: every DSS request will be refused with 401 "
            "(give --public-key PEM or SHAREDSKY_PUBLIC_KEYS)"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from sharedsky.services.strategic import StrategicService
        from sharedsky.store import open_store

        # As many worker threads as the store keeps connections: more threads than
        # connections would open and close a database session per request.
        anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        store = await run_in_threadpool(open_store, settings.db_url)
        app.state.store = store
        app.state.service = StrategicService(store)
        try:
            async with live_lifespan(app, store, settings):
                yield
        finally:
            await run_in_threadpool(store.close)

    app = FastAPI(
        title="sharedsky",
        version=__version__,
        description=(
            "An open, neutral airspace deconfliction service. The `/dss/v1` endpoints implement "
            "the ASTM F3548-21 Discovery and Synchronization Service (USS->DSS interface of "
            "utm.yaml)."
        ),
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        redirect_slashes=False,
        **_telemetry_option(settings),
    )
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(
        keys, settings.audiences, leeway_s=settings.token_leeway_s
    )
    app.state.rate_limiter = (
        None
        if settings.rate_limit_per_s is None
        else RateLimiter(
            settings.rate_limit_per_s, max(10, math.ceil(2 * settings.rate_limit_per_s))
        )
    )
    install_error_handlers(app)
    if settings.fast_lane:
        # inside the body size limit (added last: outermost)
        app.add_middleware(DssFastLane, threads=settings.lane_threads)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.include_router(dss_router)
    app.include_router(live_router)

    @app.get(
        "/aux/v1/version",
        operation_id="getVersion",
        response_model=VersionResponse,
        tags=["aux"],
        summary="Version of this server (no authentication).",
    )
    async def get_version() -> dict[str, str]:
        return {"version": __version__}

    @app.get(
        "/healthy",
        operation_id="healthy",
        response_class=PlainTextResponse,
        tags=["aux"],
        summary="Liveness probe: plain 'ok'.",
    )
    async def healthy() -> str:
        return "ok"

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(
                _SECURITY_SCHEMES
            )
            _drop_fastapi_validation_responses(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
