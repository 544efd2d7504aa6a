"""The one place where errors become HTTP responses.

=====================================  =====  ==============================================
Raised                                 Code   Body
=====================================  =====  ==============================================
request validation (pydantic/FastAPI)  400    ``ErrorResponse``, naming the field
malformed JSON                         400    ``ErrorResponse``
:class:`~sharedsky.errors.InvalidInput`  400  ``ErrorResponse`` (the message names the field)
:class:`~sharedsky.errors.AreaTooLarge`  413  (400 where the endpoint's spec has no 413)
:class:`~sharedsky.errors.Unauthenticated`  401  ``ErrorResponse`` + ``WWW-Authenticate``
:class:`~sharedsky.errors.PermissionDenied` 403  ``ErrorResponse``
:class:`~sharedsky.errors.NotFound`    404    ``ErrorResponse``
:class:`~sharedsky.errors.AirspaceConflict` 409  ``AirspaceConflictResponse``
:class:`~sharedsky.errors.Conflict`    409    ``ErrorResponse``
:class:`~sharedsky.errors.PreconditionFailed`  412  ``ErrorResponse``
:class:`~sharedsky.errors.StorageError`  503  ``ErrorResponse``
:class:`~sharedsky.api.ratelimit.RateLimited`  429  ``ErrorResponse`` + ``Retry-After``
HTTP errors of the router (404, 405)   same   ``ErrorResponse``
body larger than the limit             413    ``ErrorResponse`` (:class:`BodySizeLimit`)
anything else                          500    ``ErrorResponse`` (logged with its traceback)
=====================================  =====  ==============================================
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sharedsky.api.ratelimit import RateLimited
from sharedsky.errors import (
    AirspaceConflict,
    AreaTooLarge,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    SharedskyError,
    StorageError,
    Unauthenticated,
)

__all__ = [
    "AREA_TOO_LARGE_AS_400",
    "BodySizeLimit",
    "error_response",
    "format_validation_errors",
    "install_error_handlers",
    "replay_body",
    "sharedsky_error_response",
]

log = logging.getLogger("sharedsky.api")

# Operations whose spec lists no 413: an area that is too large there is a plain 400.
AREA_TOO_LARGE_AS_400: frozenset[str] = frozenset({"createSubscription", "updateSubscription"})


def error_response(
    status_code: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An F3548 ``ErrorResponse``: ``{"message": ...}``."""
    return JSONResponse({"message": message}, status_code=status_code, headers=headers)


def _loc_to_field(loc: Sequence[Any]) -> str:
    parts: list[str] = []
    where = ""
    items = list(loc)
    if items and items[0] in ("body", "path", "query", "header"):
        where = str(items.pop(0))
    for item in items:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    name = "".join(parts)
    if where in ("path", "query", "header"):
        return f"{name} ({where} parameter)" if name else where
    return name or "body"


def format_validation_errors(errors: Sequence[Any]) -> str:
    """One line naming each invalid field, e.g. ``extents[0].volume: Field required``."""
    lines: list[str] = []
    for err in errors:
        kind = err.get("type", "")
        loc = err.get("loc", ())
        if kind == "json_invalid":
            ctx = err.get("ctx") or {}
            detail = ctx.get("error", "")
            return f"malformed JSON body{': ' + str(detail) if detail else ''}"
        msg = str(err.get("msg", "invalid"))
        msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if kind == "missing" and tuple(loc) == ("body",):
            lines.append("body: a JSON request body is required")
            continue
        lines.append(f"{_loc_to_field(loc)}: {msg}")
    return "; ".join(lines[:5]) + (f" (and {len(lines) - 5} more)" if len(lines) > 5 else "")


def _operation_id(request: Request) -> str | None:
    route = request.scope.get("route")
    op = getattr(route, "operation_id", None)
    if (
        op is None
        and request.method == "PUT"
        and request.url.path.startswith("/dss/v1/subscriptions/")
    ):
        op = "createSubscription"  # routers that do not record the route in the scope
    return op


def _airspace_conflict_body(exc: AirspaceConflict) -> dict[str, Any]:
    from sharedsky.api.dss.schemas import constraint_to_wire, oir_to_wire

    return {
        "message": exc.message,
        "missing_operational_intents": [oir_to_wire(o) for o in exc.missing_operational_intents],
        "missing_constraints": [constraint_to_wire(c) for c in exc.missing_constraints],
    }


async def _sharedsky_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SharedskyError)
    return sharedsky_error_response(request, exc)


def sharedsky_error_response(request: Request, exc: SharedskyError) -> JSONResponse:
    """The response for one of our errors, by the table above."""
    if isinstance(exc, AreaTooLarge):
        code = 400 if _operation_id(request) in AREA_TOO_LARGE_AS_400 else 413
        return error_response(code, exc.message)
    if isinstance(exc, InvalidInput):
        return error_response(400, exc.message)
    if isinstance(exc, Unauthenticated):
        return error_response(401, exc.message, {"WWW-Authenticate": "Bearer"})
    if isinstance(exc, PermissionDenied):
        return error_response(403, exc.message)
    if isinstance(exc, NotFound):
        return error_response(404, exc.message)
    if isinstance(exc, AirspaceConflict):
        return JSONResponse(_airspace_conflict_body(exc), status_code=409)
    if isinstance(exc, Conflict):
        return error_response(409, exc.message)
    if isinstance(exc, PreconditionFailed):
        return error_response(412, exc.message)
    if isinstance(exc, RateLimited):
        retry = str(max(1, math.ceil(exc.retry_after_s)))
        return error_response(429, exc.message, {"Retry-After": retry})
    if isinstance(exc, StorageError):
        log.warning("storage error on %s %s: %s", request.method, request.url.path, exc.message)
        return error_response(503, f"the service is temporarily unavailable: {exc.message}")
    log.error("unmapped sharedsky error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal error")


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError | ValidationError)
    return error_response(400, format_validation_errors(exc.errors()))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"method {request.method} not allowed on {request.url.path}"
    return error_response(exc.status_code, message, getattr(exc, "headers", None))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal error")


def install_error_handlers(app: FastAPI) -> None:
    """Register every mapping of the table above on ``app``."""
    app.add_exception_handler(SharedskyError, _sharedsky_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


class BodySizeLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with 413 before the app runs.

    The body is read (up to the limit) and replayed to the app, so a streamed body without
    ``Content-Length`` is bounded too.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        body = (
            b'{"message":"request body larger than the limit of '
            + str(self.max_bytes).encode()
            + b' bytes"}'
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await self._refuse(send)
                    return
                break
        chunks: list[bytes] = []
        size = 0
        more = True
        disconnect: Message | None = None
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnect = message
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        await self.app(scope, replay_body(b"".join(chunks), disconnect, receive), send)


def replay_body(body: bytes, disconnect: Message | None, receive: Receive) -> Receive:
    """An ASGI ``receive`` that gives a body already read (or the disconnect that ended the
    reading) once, then defers to ``receive``."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            if disconnect is not None:
                return disconnect
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
