"""One party's client of a sharedsky server's live interface (``/live/v1``).

The server side is the live tactical service (see :mod:`sharedsky.api.live`); this is a client
of its public HTTP and WebSocket interface, exactly as another party's software would be.

* :class:`LiveClient` pushes track batches (HTTP or one WebSocket) and reads the picture and
  alerts; :func:`push_replay` pushes a whole replay through it, counting in a
  :class:`ReplayTally`.
* :class:`AlertListener` receives a party's alert transitions in a background thread.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import orjson

from sharedsky.client.errors import ServerUnavailable
from sharedsky.client.tokens import TokenSource
from sharedsky.errors import InvalidInput, PermissionDenied, SharedskyError, Unauthenticated
from sharedsky.model.tracks import NUMERIC_FIELDS, Reject, TrackBatch

if TYPE_CHECKING:
    from sharedsky.feeds.tables import TableReplay

__all__ = [
    "AlertListener",
    "LiveClient",
    "PushResult",
    "ReplayTally",
    "batch_to_json",
    "push_replay",
]


def batch_to_json(batch: TrackBatch) -> bytes:
    """A batch as the columnar JSON push body (SI names; NaN as null)."""
    cols: dict[str, Any] = {"track_id": batch.track_id.tolist()}
    for name in NUMERIC_FIELDS:
        col = getattr(batch, name)
        if name.endswith(("accuracy_m", "accuracy_mps")) and not (col == col).any():
            continue  # all unknown: leave out
        cols[name] = col
    return orjson.dumps({"columns": cols, "naming": "si"}, option=orjson.OPT_SERIALIZE_NUMPY)


@dataclass
class PushResult:
    """What the server said about one pushed batch."""

    accepted: int
    rejected: list[dict[str, Any]]
    flagged: int
    stale: int

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> PushResult:
        return cls(
            accepted=int(body.get("accepted", 0)),
            rejected=list(body.get("rejected", [])),
            flagged=int(body.get("flagged", 0)),
            stale=int(body.get("stale", 0)),
        )


def _raise_for(status: int, body: Any, what: str) -> None:
    message = body.get("message") if isinstance(body, dict) else None
    message = message or (str(body)[:200] if body else f"HTTP {status}")
    if status == 401:
        raise Unauthenticated(f"{what}: the server refused the token ({message})")
    if status == 403:
        raise PermissionDenied(f"{what}: {message}")
    if status >= 400:
        raise SharedskyError(f"{what}: HTTP {status}: {message}")


def _ws_url(server: str, path: str) -> str:
    parts = urlsplit(server)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}{path}"


class LiveClient:
    """One party's connection to a sharedsky server's live interface (``/live/v1``).

    ``push`` sends a batch over HTTP (``via="http"``) or over one WebSocket kept open
    (``via="ws"``); ``picture`` and ``alerts`` read. Transport failures raise
    :class:`ServerUnavailable`, refused tokens :class:`~sharedsky.errors.Unauthenticated`.
    """

    def __init__(
        self, server: str, tokens: TokenSource, via: str = "http", timeout_s: float = 30.0
    ) -> None:
        if via not in ("http", "ws"):
            raise InvalidInput(f"must be http or ws, got {via!r}", "--via")
        parts = urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(f"not an http(s) URL: {server!r}", "--server")
        self.server = server.rstrip("/")
        self.tokens = tokens
        self.via = via
        self.timeout_s = timeout_s
        self._http = httpx.Client(timeout=timeout_s)
        self._ws: Any = None

    def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                self._ws.close()
            self._ws = None
        self._http.close()

    def __enter__(self) -> LiveClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, **params: Any) -> Any:
        try:
            r = self._http.get(f"{self.server}{path}", params=params, headers=self.tokens.headers())
        except httpx.HTTPError as exc:
            raise ServerUnavailable(f"cannot reach {self.server}: {exc}") from exc
        body = _json_or_text(r)
        _raise_for(r.status_code, body, f"GET {path}")
        return body

    def picture(self) -> dict[str, Any]:
        """``GET /live/v1/picture``: own tracks and others within need to know, with counts."""
        return dict(self._get("/live/v1/picture"))

    def alerts(self, active_only: bool = False) -> list[dict[str, Any]]:
        """``GET /live/v1/alerts``: transitions involving this party (or its active alerts)."""
        body = self._get("/live/v1/alerts", active_only=str(active_only).lower())
        return list(body["alerts"])

    def push(self, batch: TrackBatch) -> PushResult:
        """Send one batch; a 422 (some records rejected, the rest kept) is a normal answer."""
        payload = batch_to_json(batch)
        if self.via == "ws":
            return self._push_ws(payload)
        try:
            r = self._http.post(
                f"{self.server}/live/v1/tracks",
                content=payload,
                headers={**self.tokens.headers(), "Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise ServerUnavailable(f"cannot reach {self.server}: {exc}") from exc
        body = _json_or_text(r)
        if r.status_code != 422:
            _raise_for(r.status_code, body, "POST /live/v1/tracks")
        return PushResult.from_body(body)

    def _push_ws(self, payload: bytes) -> PushResult:
        from websockets.exceptions import WebSocketException

        try:
            if self._ws is None:
                self._ws = _ws_connect(
                    _ws_url(self.server, "/live/v1/tracks/ws"), self.tokens, self.timeout_s
                )
            self._ws.send(payload.decode())
            reply = orjson.loads(self._ws.recv(timeout=self.timeout_s))
        except (OSError, TimeoutError, WebSocketException) as exc:
            self._ws = None
            raise ServerUnavailable(f"WebSocket push to {self.server} failed: {exc}") from exc
        if reply.get("type") == "error" or int(reply.get("status", 200)) not in (200, 422):
            _raise_for(int(reply.get("status", 400)), reply, "WS /live/v1/tracks/ws")
        return PushResult.from_body(reply)


def _json_or_text(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return r.text


def _ws_connect(url: str, tokens: TokenSource, timeout_s: float) -> Any:
    """Open a WebSocket with the bearer token (closed by the caller with ``close()``)."""
    from websockets.sync.client import connect

    ws = connect(
        url,
        additional_headers=tokens.headers(),
        open_timeout=timeout_s,
        max_size=None,
        compression=None,
    )
    return ws.__enter__()  # a long-lived connection; __exit__ would only close() it


class AlertListener:
    """Alert transitions of one party from ``WS /live/v1/alerts/ws``, in a background thread.

    Each message (``snapshot``, ``alert`` or ``notice``) is passed to ``on_message`` with the
    local receive time (epoch s). A refused token ends the listener with ``error`` set; a lost
    connection is retried every second until :meth:`stop`.
    """

    def __init__(
        self,
        server: str,
        tokens: TokenSource,
        on_message: Callable[[dict[str, Any], float], None],
        name: str = "alerts",
    ) -> None:
        self.url = _ws_url(server, "/live/v1/alerts/ws")
        self.tokens = tokens
        self.on_message = on_message
        self.error: SharedskyError | None = None
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._ws: Any = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> AlertListener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        from websockets.exceptions import WebSocketException

        while not self._stop.is_set():
            try:
                self._ws = _ws_connect(self.url, self.tokens, 10.0)
                for raw in self._ws:
                    msg = orjson.loads(raw)
                    if msg.get("type") == "error":
                        status = int(msg.get("status", 401))
                        cls = PermissionDenied if status == 403 else Unauthenticated
                        self.error = cls(f"alerts stream refused: {msg.get('message')}")
                        return
                    if msg.get("type") == "snapshot":
                        self.connected.set()
                    self.on_message(msg, time.time())
            except (OSError, TimeoutError, WebSocketException, ValueError):
                pass
            finally:
                self._ws = None
            self._stop.wait(1.0)


@dataclass
class ReplayTally:
    """What a replay sent: batches, states accepted, flagged and stale by the server, the rows
    rejected in the file (``local_rejects``) and by the server (``server_rejects``), tracks."""

    sent_batches: int = 0
    accepted: int = 0
    flagged: int = 0
    stale: int = 0
    local_rejects: list[Reject] = field(default_factory=list)
    server_rejects: list[dict[str, Any]] = field(default_factory=list)
    tracks: set[str] = field(default_factory=set)

    def record(self, batch: TrackBatch, result: PushResult | None) -> None:
        self.local_rejects.extend(batch.rejects)
        self.tracks.update(batch.track_id.tolist())
        if result is not None:
            self.sent_batches += 1
            self.accepted += result.accepted
            self.flagged += result.flagged
            self.stale += result.stale
            self.server_rejects.extend(result.rejected)


def push_replay(
    replay: TableReplay,
    client: LiveClient,
    tally: ReplayTally,
    stop: threading.Event | None = None,
) -> None:
    """Push every batch of ``replay`` through ``client``; file rejects are counted, not sent."""
    for batch in replay.batches():
        if stop is not None and stop.is_set():
            replay.stop()
            break
        result = client.push(batch) if len(batch) else None
        tally.record(batch, result)
