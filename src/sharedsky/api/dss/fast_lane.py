"""A short path for the requests of the F3548 planning loop: query, create, update and delete
of operational intent references.

Every USS plans by querying an area, then creating or updating its intent (again after each 409),
and deletes it when the flight is over, so these four requests are nearly all of a DSS's load.
FastAPI's request machinery (routing, dependency solving, the thread hop of ``anyio``, response
classes) costs more CPU than the rest of such a request, so :class:`DssFastLane`, an ASGI
middleware, answers them before FastAPI does, with the very functions the routes call
(:func:`~sharedsky.api.dss.routes.query_operational_intents`,
:func:`~sharedsky.api.dss.routes.put_operational_intent`,
:func:`~sharedsky.api.dss.routes.delete_operational_intent`), the same authorisation
(:func:`~sharedsky.api.dss.routes.authorise_caller`), the same request models and the same error
mapping (:func:`~sharedsky.api.errors.sharedsky_error_response`).

Only a request the lane fully understands takes it: the path matches the route's pattern, the
``Content-Type`` is JSON (or absent), and the body parses and validates (a delete has no body
to read: the route reads none). Anything else is passed
to FastAPI untouched (body replayed), which answers it exactly as the routes always do; the lane
authorises only after that decision, so a rate limit never counts a request twice. The routes
stay the documented (OpenAPI) and reference implementation: the tests run every operational
intent test with the lane and without it (``Settings.fast_lane``).
"""

from __future__ import annotations

import asyncio
import queue
import re
import threading
import weakref
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sharedsky.api.dss.routes import (
    SCOPE_GROUPS,
    authorise_caller,
    delete_operational_intent,
    put_operational_intent,
    query_operational_intents,
)
from sharedsky.api.dss.schemas import (
    UUIDV4_PATTERN,
    PutOperationalIntentReferenceParameters,
    QueryOperationalIntentReferenceParameters,
)
from sharedsky.api.errors import replay_body, sharedsky_error_response
from sharedsky.config import DEFAULT_LANE_THREADS
from sharedsky.errors import SharedskyError

__all__ = ["DssFastLane"]


_OIR_PREFIX = "/dss/v1/operational_intent_references/"
_QUERY_PATH = _OIR_PREFIX + "query"
_ENTITY_ID = re.compile(UUIDV4_PATTERN)
_OVN_LENGTHS = range(16, 129)  # OvnPath of the routes: 16 to 128 characters
_JSON = b"application/json"

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class DssFastLane:
    """ASGI middleware answering well-formed operational-intent queries, creates, updates and
    deletes; everything else goes to ``app``."""

    def __init__(self, app: ASGIApp, threads: int = DEFAULT_LANE_THREADS) -> None:
        self.app = app
        self._threads = LaneThreads(threads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        path: str = scope["path"]
        entity_id: str | None = None
        ovn: str | None = None
        if method == "POST" and path == _QUERY_PATH:
            pass
        elif method == "PUT" and path.startswith(_OIR_PREFIX):
            entity_id, slash, ovn_part = path[len(_OIR_PREFIX) :].partition("/")
            if (
                len(entity_id) != 36
                or not _ENTITY_ID.match(entity_id)
                or (slash and ("/" in ovn_part or len(ovn_part) not in _OVN_LENGTHS))
            ):
                await self.app(scope, receive, send)
                return
            ovn = ovn_part or None
        elif method == "DELETE" and path.startswith(_OIR_PREFIX):
            entity_id, slash, ovn = path[len(_OIR_PREFIX) :].partition("/")
            if (
                len(entity_id) != 36
                or not _ENTITY_ID.match(entity_id)
                or not slash
                or "/" in ovn
                or len(ovn) not in _OVN_LENGTHS
            ):
                await self.app(scope, receive, send)
                return
            await self._delete(scope, receive, send, entity_id, ovn)
            return
        else:
            await self.app(scope, receive, send)
            return

        authorization: bytes | None = None
        content_type: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"content-type":
                content_type = value
        body, disconnect = await _read_body(receive)
        if disconnect is not None or (content_type is not None and content_type != _JSON):
            await self.app(scope, replay_body(body, disconnect, receive), send)
            return
        model: type[BaseModel] = (
            QueryOperationalIntentReferenceParameters
            if entity_id is None
            else PutOperationalIntentReferenceParameters
        )
        parsed = _parse(body, model)
        if parsed is None:
            await self.app(scope, replay_body(body, None, receive), send)
            return

        state = scope["app"].state
        try:
            if entity_id is None:
                assert isinstance(parsed, QueryOperationalIntentReferenceParameters)
                caller = authorise_caller(
                    state, _text(authorization), SCOPE_GROUPS["queryOperationalIntentReferences"]
                )
                answer = await self._run(query_operational_intents, parsed, caller, state.service)
                status = 200
            else:
                assert isinstance(parsed, PutOperationalIntentReferenceParameters)
                operation = (
                    "createOperationalIntentReference"
                    if ovn is None
                    else "updateOperationalIntentReference"
                )
                caller = authorise_caller(state, _text(authorization), SCOPE_GROUPS[operation])
                answer, status = await self._run(
                    put_operational_intent,
                    entity_id.lower(),
                    ovn,
                    parsed,
                    caller,
                    state.service,
                    state.settings,
                )
        except SharedskyError as exc:
            response = sharedsky_error_response(Request(scope), exc)
            await response(scope, receive, send)
            return
        await _answer(send, status, answer)

    async def _delete(
        self, scope: Scope, receive: Receive, send: Send, entity_id: str, ovn: str
    ) -> None:
        """``DELETE /dss/v1/operational_intent_references/{entityid}/{ovn}``, as the route."""
        authorization: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
        state = scope["app"].state
        try:
            caller = authorise_caller(
                state, _text(authorization), SCOPE_GROUPS["deleteOperationalIntentReference"]
            )
            answer = await self._run(
                delete_operational_intent, entity_id, ovn, caller, state.service
            )
        except SharedskyError as exc:
            response = sharedsky_error_response(Request(scope), exc)
            await response(scope, receive, send)
            return
        await _answer(send, 200, answer)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._threads.run(fn, *args)


async def _answer(send: Send, status: int, answer: Any) -> None:
    """Send ``answer`` as JSON with ``status``."""
    payload = orjson.dumps(answer)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", _JSON),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class LaneThreads:
    """``threads`` threads that run blocking calls for an event loop, first come first served.

    What ``loop.run_in_executor`` with a ``ThreadPoolExecutor`` does, for a fraction of its CPU:
    a job is one tuple on a ``queue.SimpleQueue`` and its result goes straight to the awaiting
    asyncio future with ``call_soon_threadsafe``, with no ``concurrent.futures.Future`` (locks,
    condition, callbacks) in between. Measured on a bare uvicorn app at 25 connections: a hop
    through the executor added 40-43 us of CPU per request, one through these threads 12-17 us;
    the planning loop makes two hops per write. The threads start on the first call and end
    when this object is garbage-collected (a test suite builds many apps)."""

    def __init__(self, threads: int) -> None:
        self._count = threads
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._started = False
        self._start_lock = threading.Lock()

    def run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Run ``fn(*args)`` on one of the threads; await the result (or its exception)."""
        if not self._started:
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, fn, args))
        return future

    def _start(self) -> None:
        with self._start_lock:
            if self._started:
                return
            for i in range(self._count):
                threading.Thread(
                    target=_serve, args=(self._jobs,), name=f"dss-lane-{i}", daemon=True
                ).start()
            weakref.finalize(self, _stop, self._jobs, self._count)
            self._started = True


def _serve(jobs: queue.SimpleQueue[_Job | None]) -> None:
    while (job := jobs.get()) is not None:
        loop, future, fn, args = job
        del job
        try:
            result, error = fn(*args), None
        except BaseException as exc:  # handed to the awaiting request, as an executor would
            result, error = None, exc
        with suppress(RuntimeError):  # the loop has closed: nobody awaits the result any more
            loop.call_soon_threadsafe(_settle, future, result, error)
        del loop, future, fn, args, result, error


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the request was cancelled (client gone) meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _stop(jobs: queue.SimpleQueue[_Job | None], count: int) -> None:
    for _ in range(count):
        jobs.put(None)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def _parse(body: bytes, model: type[M]) -> M | None:
    """``body`` as ``model``, or None if it is not JSON or not valid (FastAPI then says why)."""
    if not body:
        return None
    try:
        return model.model_validate(orjson.loads(body))
    except (orjson.JSONDecodeError, ValidationError):
        return None


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None
