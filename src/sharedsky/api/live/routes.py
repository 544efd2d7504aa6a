"""HTTP and WebSocket endpoints of the live tactical service (``/live/v1``).

Authentication: the same RS256 bearer tokens as the DSS; the token's ``sub`` is the party.
Scopes: ``sharedsky.tracks.write`` to push tracks and link them to plans,
``sharedsky.picture.read`` to read the picture, alerts, streams, feeds and configuration.
WebSockets take the token in the ``Authorization`` header of the handshake or, for browsers, in
the ``access_token`` query parameter; a refused WebSocket gets one ``{"type": "error", "status":
401|403, "message": ...}`` message and is closed with code 4401 or 4403.

=========================================  ======================================================
``POST /live/v1/tracks``                    push a batch (JSON, Arrow IPC stream, Parquet; see
                                            :mod:`sharedsky.api.live.bodies`). 200 when every
                                            record was accepted; 422 when some were rejected —
                                            the others ARE kept — with ``rejected`` listing index,
                                            raw text and reason; 400 for a body that cannot be
                                            read at all. Body: ``{accepted, rejected, flagged,
                                            stale}``.
``WS /live/v1/tracks/ws``                   the same per message (text: JSON; binary: Arrow IPC
                                            stream); each message is answered with the same body
                                            plus ``seq`` and ``status``; a bad message never
                                            closes the connection.
``GET /live/v1/picture``                    ``{party, time, tracks: [...], counts}``: own tracks
                                            and the others within need to know.
``GET /live/v1/alerts``                     ``{alerts: [...]}``: transitions involving the caller
                                            (oldest first), ``since`` (ISO-8601 or epoch s) and
                                            ``active_only=true`` (current state of each active
                                            alert).
``GET /live/v1/alerts/{id}``                ``{id, transitions}``; 404 unless it involves the
                                            caller.
``WS /live/v1/alerts/ws``                   ``{"type": "snapshot", "alerts": [...]}`` then one
                                            message per transition ``{"type": "alert", "alert":
                                            {...}}`` or notice ``{"type": "notice", ...}``.
``GET /live/v1/alerts/stream``              the same as server-sent events (``event: snapshot |
                                            alert | notice``), a comment every 15 s.
``GET /live/v1/feeds``                      the caller's inputs with their health;
``GET /live/v1/parties/{party}/feeds``      the same, 404 for another party.
``GET /live/v1/config``                     the shared configuration (minima, lines, volumes).
``GET /live/v1/parties/{party}/config``     a party's own section; 404 for another party.
``PUT /live/v1/links/{track_id}``           ``{"plan_id": ...}``: link an own track to an own
                                            plan (404 for a plan that is not the caller's).
``DELETE /live/v1/links/{track_id}``        remove the link.
=========================================  ======================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from sharedsky.api.auth import TokenVerifier, check_scopes
from sharedsky.api.dss.schemas import ErrorResponse
from sharedsky.api.live.bodies import decode_json, decode_tracks
from sharedsky.api.ratelimit import RateLimiter
from sharedsky.errors import InvalidInput, NotFound, SharedskyError
from sharedsky.model.scopes import SCOPE_PICTURE_READ, SCOPE_TRACKS_WRITE
from sharedsky.model.tracks import TrackBatch
from sharedsky.services.live import IngestResult, LiveService
from sharedsky.units import epoch_to_iso

__all__ = ["SCOPE_PICTURE_READ", "SCOPE_TRACKS_WRITE", "router"]

SSE_KEEPALIVE_S = 15.0

router = APIRouter(prefix="/live/v1", tags=["live"])


_ERROR_TEXT = {
    400: "A parameter, the body or the caller's party name (the token's `sub`) is invalid; the "
    "message names which.",
    401: "The access token is missing, invalid or expired.",
    403: "The access token does not include the scope of this endpoint.",
    404: "Not found, or not visible to the caller.",
    413: "The body is larger than the server's limit.",
    429: "The client issued too many requests in a short period of time.",
}


_NAMING = {"enum": ["si", "traffic"]}
_RECORDS = {"type": "array", "items": {"type": "object"}}
_TRACKS_BODY = {
    "required": True,
    "description": "Track states: JSON rows or columns, an Arrow IPC stream or a Parquet file "
    "with the field names of SI or of traffic (see sharedsky.api.live.bodies).",
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    _RECORDS,
                    {
                        "type": "object",
                        "properties": {"states": _RECORDS, "naming": _NAMING},
                        "required": ["states"],
                    },
                    {
                        "type": "object",
                        "properties": {
                            "columns": {
                                "type": "object",
                                "additionalProperties": {"type": "array"},
                            },
                            "naming": _NAMING,
                        },
                        "required": ["columns"],
                    },
                ]
            }
        },
        "application/vnd.apache.arrow.stream": {"schema": {"type": "string", "format": "binary"}},
        "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
    },
}
_SSE_EVENT = {
    "description": "One event; `data` is its JSON document.",
    "type": "object",
    "properties": {
        "event": {"enum": ["snapshot", "alert", "notice"]},
        "data": {"type": "string"},
        "id": {"type": "string"},
    },
    "required": ["event", "data"],
}
_LINK_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"plan_id": {"type": "string", "minLength": 1}},
                "required": ["plan_id"],
            }
        }
    },
}


def _documented(
    scope: str,
    *errors: int,
    extra: dict[int | str, dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The OpenAPI of a live endpoint: the scope its dependency checks, its request body (these
    endpoints read their bodies themselves) and its error answers, ``ErrorResponse`` bodies from
    :mod:`sharedsky.api.errors`, besides those of every endpoint (400, 401, 403, 429)."""
    responses: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorResponse, "description": _ERROR_TEXT[code]}
        for code in sorted({*errors, 400, 401, 403, 429})
    }
    return {
        "responses": {**responses, **(extra or {})},
        "openapi_extra": {
            "security": [{"Authority": [scope]}],
            **({} if body is None else {"requestBody": body}),
        },
    }


def _json(body: Any, status_code: int = 200) -> Response:
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status_code,
        media_type="application/json",
    )


def _party_dependency(scope: str) -> Any:
    async def authorise(request: Request) -> str:
        verifier: TokenVerifier = request.app.state.token_verifier
        claims = verifier.verify_header(request.headers.get("authorization"))
        limiter: RateLimiter | None = request.app.state.rate_limiter
        if limiter is not None:
            limiter.check(claims.sub)
        check_scopes(claims, (frozenset({scope}),))
        return claims.sub

    return authorise


async def _live(request: Request) -> LiveService:
    service: LiveService = request.app.state.live
    return service


WriterDep = Annotated[str, Depends(_party_dependency(SCOPE_TRACKS_WRITE))]
ReaderDep = Annotated[str, Depends(_party_dependency(SCOPE_PICTURE_READ))]
LiveDep = Annotated[LiveService, Depends(_live)]


def _ingest_body(result: IngestResult) -> tuple[dict[str, Any], int]:
    body = result.to_dict()
    if result.rejected:
        first = result.rejected[0]
        body["message"] = (
            f"{len(result.rejected)} record(s) rejected, {result.accepted} accepted and kept; "
            f"first: record {first.index_or_line}: {first.reason}"
        )
        return body, 422
    return body, 200


def _ingest(service: LiveService, party: str, body: bytes, ctype: str | None) -> IngestResult:
    batch = decode_tracks(body, ctype)
    return service.ingest(party, batch)


@router.post(
    "/tracks",
    summary="Push a batch of the caller's track states (JSON, Arrow IPC stream or Parquet).",
    **_documented(
        SCOPE_TRACKS_WRITE,
        413,
        body=_TRACKS_BODY,
        extra={
            422: {
                "description": "Some records rejected (listed in `rejected`); the others were "
                "accepted and kept."
            }
        },
    ),
)
async def push_tracks(request: Request, party: WriterDep, service: LiveDep) -> Response:
    body = await request.body()
    result = await run_in_threadpool(
        _ingest, service, party, body, request.headers.get("content-type")
    )
    out, status = _ingest_body(result)
    return _json(out, status)


def _parse_since(since: str | None) -> float | None:
    if since is None or since == "":
        return None
    try:
        v = float(since)
        if math.isfinite(v):
            return v
    except ValueError:
        pass
    try:
        d = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"not a time: {since!r}", "since (query parameter)") from exc
    if d.tzinfo is None:
        raise InvalidInput("time lacks a UTC offset", "since (query parameter)")
    return d.timestamp()


@router.get(
    "/picture",
    summary="The caller's picture: own tracks and others within need to know.",
    **_documented(SCOPE_PICTURE_READ),
)
async def get_picture(party: ReaderDep, service: LiveDep) -> Response:
    now = service.clock()
    views = await run_in_threadpool(service.picture, party, now)
    tracks = [v.to_dict() for v in views]
    own = sum(1 for v in views if v.own)
    coasting = sum(1 for v in views if v.status == "coasting")
    return _json(
        {
            "party": party,
            "time": epoch_to_iso(now),
            "tracks": tracks,
            "counts": {"own": own, "others": len(views) - own, "coasting": coasting},
        }
    )


@router.get(
    "/alerts",
    summary="Alert transitions involving the caller, or its active alerts.",
    **_documented(SCOPE_PICTURE_READ),
)
async def get_alerts(
    party: ReaderDep,
    service: LiveDep,
    since: Annotated[str | None, Query(description="ISO-8601 time or epoch seconds")] = None,
    active_only: bool = False,
) -> Response:
    items = service.alerts(party, since=_parse_since(since), active_only=active_only)
    return _json({"alerts": [a.to_dict() for a in items]})


@router.get(
    "/alerts/stream",
    summary="Server-sent events: the caller's alert transitions.",
    response_class=StreamingResponse,
    **_documented(
        SCOPE_PICTURE_READ,
        extra={
            200: {
                "description": "An endless event stream: `snapshot`, then `alert` and `notice` "
                "events, a comment every 15 s.",
                "content": {"text/event-stream": {"schema": _SSE_EVENT}},
            }
        },
    ),
)
async def alert_stream(request: Request, party: ReaderDep, service: LiveDep) -> StreamingResponse:
    sub = service.subscribe(party)
    snapshot = [a.to_dict() for a in service.alerts(party, active_only=True)]

    async def events() -> Any:
        try:
            yield _sse("snapshot", {"type": "snapshot", "alerts": snapshot})
            while True:
                try:
                    item = await asyncio.wait_for(sub.get(), SSE_KEEPALIVE_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        break
                    yield b": keepalive\n\n"
                    continue
                yield _sse(item["type"], item)
                service.record_delivery(party, item, "sse")
        except StopAsyncIteration:
            pass
        finally:
            sub.close()

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


def _sse(event: str, item: dict[str, Any]) -> bytes:
    head = f"event: {event}\n"
    if item.get("type") == "alert":
        a = item["alert"]
        head += f"id: {a['id']}:{a['seq']}\n"
    return head.encode() + b"data: " + orjson.dumps(item) + b"\n\n"


@router.get(
    "/alerts/{alert_id}",
    summary="Every transition of one alert involving the caller.",
    **_documented(SCOPE_PICTURE_READ, 404),
)
async def get_alert(alert_id: str, party: ReaderDep, service: LiveDep) -> Response:
    items = service.alert_history(party, alert_id)
    return _json({"id": alert_id, "transitions": [a.to_dict() for a in items]})


@router.get(
    "/feeds",
    summary="The caller's inputs (push channel, attached feeds) and health.",
    **_documented(SCOPE_PICTURE_READ),
)
async def get_own_feeds(party: ReaderDep, service: LiveDep) -> Response:
    return _json({"party": party, "feeds": [f.to_dict() for f in service.feeds(party)]})


@router.get(
    "/parties/{name}/feeds",
    summary="A party's inputs: only the caller's own.",
    **_documented(SCOPE_PICTURE_READ, 404),
)
async def get_party_feeds(name: str, party: ReaderDep, service: LiveDep) -> Response:
    if name != party:
        raise NotFound(f"no party {name} visible to {party}")
    return _json({"party": party, "feeds": [f.to_dict() for f in service.feeds(party)]})


@router.get(
    "/config",
    summary="The shared live configuration (minima, lines, volumes).",
    **_documented(SCOPE_PICTURE_READ),
)
async def get_config(party: ReaderDep, service: LiveDep) -> Response:
    return _json(service.config.shared_view())


@router.get(
    "/parties/{name}/config",
    summary="A party's own configuration: only the caller's.",
    **_documented(SCOPE_PICTURE_READ, 404),
)
async def get_party_config(name: str, party: ReaderDep, service: LiveDep) -> Response:
    if name != party:
        raise NotFound(f"no party {name} visible to {party}")
    return _json(
        {"party": party, **service.config.party_view(party), "links": service.links(party)}
    )


@router.put(
    "/links/{track_id}",
    summary="Link an own track to an own plan for conformance.",
    **_documented(SCOPE_TRACKS_WRITE, 404, 413, body=_LINK_BODY),
)
async def put_link(track_id: str, request: Request, party: WriterDep, service: LiveDep) -> Response:
    try:
        doc = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON ({exc})", "body") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("plan_id"), str):
        raise InvalidInput("must be an object with a string 'plan_id'", "body")
    await run_in_threadpool(service.link_track, party, track_id, doc["plan_id"])
    return _json({"track_id": track_id, "plan_id": doc["plan_id"]})


@router.delete(
    "/links/{track_id}",
    summary="Remove the link of an own track.",
    **_documented(SCOPE_TRACKS_WRITE, 404),
)
async def delete_link(track_id: str, party: WriterDep, service: LiveDep) -> Response:
    service.unlink_track(party, track_id)
    return _json({"track_id": track_id})


# -- WebSockets ---------------------------------------------------------------------------------


async def _ws_party(ws: WebSocket, scope: str) -> str | None:
    """Authenticate a WebSocket (header or ``access_token`` query); None when refused."""
    await ws.accept()
    verifier: TokenVerifier = ws.app.state.token_verifier
    header = ws.headers.get("authorization")
    token = ws.query_params.get("access_token")
    try:
        claims = verifier.verify(token) if token and not header else verifier.verify_header(header)
        check_scopes(claims, (frozenset({scope}),))
    except SharedskyError as exc:
        status = 403 if exc.__class__.__name__ == "PermissionDenied" else 401
        await ws.send_text(
            orjson.dumps({"type": "error", "status": status, "message": exc.message}).decode()
        )
        await ws.close(code=4000 + status)
        return None
    return claims.sub


def _ws_ingest(service: LiveService, party: str, message: dict[str, Any]) -> dict[str, Any]:
    try:
        if message.get("bytes") is not None:
            batch = decode_tracks(message["bytes"], "application/vnd.apache.arrow.stream")
        else:
            text = message.get("text") or ""
            try:
                doc = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise InvalidInput(f"malformed JSON ({exc})", "message") from exc
            batch = decode_json(doc)
        if not isinstance(batch, TrackBatch):  # pragma: no cover - decode always returns one
            raise InvalidInput("no batch", "message")
        out, status = _ingest_body(service.ingest(party, batch))
    except SharedskyError as exc:
        return {"status": 400, "message": exc.message}
    out["status"] = status
    return out


@router.websocket("/tracks/ws")
async def push_tracks_ws(ws: WebSocket) -> None:
    party = await _ws_party(ws, SCOPE_TRACKS_WRITE)
    if party is None:
        return
    service: LiveService = ws.app.state.live
    seq = 0
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            seq += 1
            reply = await run_in_threadpool(_ws_ingest, service, party, message)
            reply["seq"] = seq
            await ws.send_text(orjson.dumps(reply).decode())
    except WebSocketDisconnect:
        pass


@router.websocket("/alerts/ws")
async def alerts_ws(ws: WebSocket) -> None:
    party = await _ws_party(ws, SCOPE_PICTURE_READ)
    if party is None:
        return
    service: LiveService = ws.app.state.live
    sub = service.subscribe(party)

    async def pump() -> None:
        snapshot = [a.to_dict() for a in service.alerts(party, active_only=True)]
        await ws.send_text(orjson.dumps({"type": "snapshot", "alerts": snapshot}).decode())
        async for item in sub:
            await ws.send_text(orjson.dumps(item).decode())
            service.record_delivery(party, item, "ws")

    async def until_closed() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return

    tasks = [asyncio.ensure_future(pump()), asyncio.ensure_future(until_closed())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sub.close()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
