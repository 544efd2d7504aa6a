"""Live commands: ``sharedsky replay`` (a recording pushed to a server as one party's feed),
``sharedsky watch`` (a party's live alerts and track counts in the terminal) and ``sharedsky
demo`` (everything on the embedded default, a real recording split between three parties).

The server side is the live tactical service (``/live/v1``, see :mod:`sharedsky.api.live`);
these commands are clients of its public HTTP and WebSocket interface, exactly as another
party's software would be. Credentials: a bearer token in a file (``--token-file``), or an RSA
private key (``--key``) with which the command signs its own short-lived RS256 token for
``--party``; the server must trust the matching public key (``sharedsky serve --public-key``).
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
import orjson
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from sharedsky.cli import app
from sharedsky.errors import (
    InvalidInput,
    PermissionDenied,
    SharedskyError,
    Unauthenticated,
)
from sharedsky.feeds.tables import ReplayProgress, TableReplay
from sharedsky.model.tracks import NUMERIC_FIELDS, Reject, TrackBatch
from sharedsky.units import M_TO_FT, NM_TO_M

__all__ = [
    "SCOPES",
    "AlertListener",
    "LiveClient",
    "PushResult",
    "TokenSource",
    "batch_to_json",
    "demo_command",
    "replay_command",
    "watch_command",
]

#: Scopes of the tokens these commands sign for themselves (push and read).
SCOPES: tuple[str, ...] = ("sharedsky.tracks.write", "sharedsky.picture.read")
_TOKEN_LIFETIME_S = 3600.0
_RENEW_BEFORE_S = 600.0
_LEVEL_STYLE = {"WARNING": "bold red", "CAUTION": "yellow", "ADVISORY": "cyan", "SYSTEM": "magenta"}
_LEVELS = ("WARNING", "CAUTION", "ADVISORY", "SYSTEM")

_err = Console(stderr=True, highlight=False, soft_wrap=True)


class ServerUnavailable(SharedskyError):
    """The server could not be reached or broke the connection."""


# -- credentials ---------------------------------------------------------------------------------


class TokenSource:
    """A bearer token: read from a file, or signed here with an RSA private key for ``party``.

    Signed tokens carry ``sub`` = the party, the push and read scopes, ``aud`` = ``audience``
    and a one-hour lifetime; they are renewed ten minutes before they expire.
    """

    def __init__(
        self,
        *,
        party: str | None = None,
        token: str | None = None,
        private_key_pem: bytes | None = None,
        audience: str = "localhost",
        issuer: str = "sharedsky-cli",
    ) -> None:
        if (token is None) == (private_key_pem is None):
            raise InvalidInput("give exactly one of a token or a private key", "credentials")
        if private_key_pem is not None and not party:
            raise InvalidInput("a party is required to sign a token with a key", "--party")
        self.party = party
        self.audience = audience
        self.issuer = issuer
        self._token = token
        self._key = private_key_pem
        self._expires = math.inf if token is not None else 0.0
        self._lock = threading.Lock()

    @classmethod
    def from_options(
        cls, party: str | None, token_file: Path | None, key: Path | None, server: str
    ) -> TokenSource:
        """From the command-line options; the audience is the server's host name."""
        if (token_file is None) == (key is None):
            raise InvalidInput("give exactly one of --token-file or --key", "--token-file/--key")
        audience = urlsplit(server).hostname or "localhost"
        if token_file is not None:
            try:
                text = token_file.read_text().strip()
            except OSError as exc:
                raise InvalidInput(f"cannot read {token_file}: {exc}", "--token-file") from exc
            if not text:
                raise InvalidInput(f"{token_file} is empty", "--token-file")
            return cls(party=party, token=text, audience=audience)
        assert key is not None
        try:
            pem = key.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read {key}: {exc}", "--key") from exc
        if b"PRIVATE KEY" not in pem:
            raise InvalidInput(f"{key} is not a PEM private key", "--key")
        return cls(party=party, private_key_pem=pem, audience=audience)

    def token(self) -> str:
        """The current token (signing a new one when needed)."""
        with self._lock:
            if self._token is None or time.time() > self._expires - _RENEW_BEFORE_S:
                self._token = self._sign()
            return self._token

    def _sign(self) -> str:
        import jwt

        now = datetime.now(UTC)
        claims = {
            "sub": self.party,
            "client_id": self.party,
            "scope": " ".join(SCOPES),
            "aud": self.audience,
            "iss": self.issuer,
            "nbf": int(now.timestamp()) - 1,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=_TOKEN_LIFETIME_S)).timestamp()),
            "jti": str(uuid.uuid4()),
        }
        assert self._key is not None
        try:
            token = jwt.encode(claims, self._key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise InvalidInput(f"cannot sign a token with this key ({exc})", "--key") from exc
        self._expires = now.timestamp() + _TOKEN_LIFETIME_S
        return token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}


# -- the client ----------------------------------------------------------------------------------


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


# -- display helpers -----------------------------------------------------------------------------


def _hms(t: float | None) -> str:
    if t is None:
        return "--:--:--"
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S")


def _iso_to_epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _input_label(inp: dict[str, Any], names: dict[str, str]) -> str:
    ident = str(inp.get("id", "?"))
    shown = names.get(ident)
    label = f"{shown} ({ident})" if shown else ident
    return f"{label}/{inp['party']}" if inp.get("party") else label


def _conflict_texts(g: dict[str, Any]) -> tuple[str, str]:
    """("loss of separation now" / "loss in 45 s", "3.8 NM / 270 ft in 120 s") of a conflict."""
    t_in = g.get("t_in_s")
    if g.get("los") or (t_in is not None and t_in <= 0):
        loss = "separation lost now"
    else:
        loss = f"loss in {t_in:.0f} s" if t_in is not None else "loss predicted"
    d_nm = g["d_cpa_m"] / NM_TO_M
    dz_ft = abs(g.get("dalt_cpa_m", 0.0)) * M_TO_FT
    t_cpa = max(0.0, g.get("t_cpa_s", 0.0))
    return loss, f"{d_nm:.1f} NM / {dz_ft:.0f} ft in {t_cpa:.0f} s"


def describe_alert(alert: dict[str, Any], names: dict[str, str] | None = None) -> Text:
    """One line for an alert transition: level, status, what, geometry, parties."""
    names = names or {}
    level = str(alert.get("level", "?"))
    text = Text()
    text.append(f"{level:<8}", style=_LEVEL_STYLE.get(level, ""))
    text.append(f" {alert.get('status', '?'):<7} ")
    inputs = alert.get("inputs", [])
    text.append(" × ".join(_input_label(i, names) for i in inputs) or alert.get("kind", ""))
    g = alert.get("geometry") or {}
    if "d_cpa_m" in g:
        loss, closest = _conflict_texts(g)
        text.append(f"  {loss}, closest {closest}", style="dim")
    elif alert.get("message"):
        text.append(f"  {alert['message']}", style="dim")
    text.append(f"  [{alert.get('id', '')[:8]}]", style="dim")
    return text


@dataclass
class _AlertBook:
    """Active alerts and counts built from transitions (deduplicated by id and seq)."""

    active: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: set[tuple[str, int]] = field(default_factory=set)
    max_level: dict[str, str] = field(default_factory=dict)
    received_by: dict[tuple[str, int], set[str]] = field(default_factory=dict)
    latency_s: list[float] = field(default_factory=list)
    parties: dict[str, tuple[str, ...]] = field(default_factory=dict)
    level_now: dict[str, str] = field(default_factory=dict)
    notable: bool = False  # the last new transition raised, cleared or changed level
    recent: deque[Text] = field(default_factory=lambda: deque(maxlen=12))

    def add(self, alert: dict[str, Any], party: str, received: float) -> bool:
        """Record a transition received by ``party``; True the first time it is seen."""
        key = (str(alert["id"]), int(alert.get("seq", 0)))
        self.received_by.setdefault(key, set()).add(party)
        if key in self.seen:
            return False
        self.seen.add(key)
        aid = key[0]
        self.parties[aid] = tuple(alert.get("parties", ()))
        level = str(alert.get("level", "SYSTEM"))
        old = self.max_level.get(aid)
        if old is None or _LEVELS.index(level) < _LEVELS.index(old):
            self.max_level[aid] = level
        self.notable = alert.get("status") != "updated" or self.level_now.get(aid) != level
        self.level_now[aid] = level
        if alert.get("status") == "cleared":
            self.active.pop(aid, None)
        else:
            self.active[aid] = alert
        detected = _iso_to_epoch(alert.get("detected_at"))
        if detected is not None:
            self.latency_s.append(received - detected)
        return True

    def by_level(self) -> Counter[str]:
        return Counter(self.max_level.values())


def _alerts_table(book: _AlertBook, names: dict[str, str], limit: int = 15) -> Table:
    table = Table(expand=True, show_edge=False, pad_edge=False)
    table.add_column("level", no_wrap=True, min_width=8)
    table.add_column("what", ratio=1, min_width=24, overflow="fold")
    table.add_column("loss", no_wrap=True)
    table.add_column("closest", no_wrap=True)
    table.add_column("since", no_wrap=True, min_width=8)
    order = sorted(
        book.active.values(),
        key=lambda a: (_LEVELS.index(a.get("level", "SYSTEM")), a.get("raised_at", "")),
    )
    for a in order[:limit]:
        g = a.get("geometry") or {}
        what = Text(" × ".join(_input_label(i, names) for i in a.get("inputs", [])))
        if "d_cpa_m" in g:
            loss, closest = _conflict_texts(g)
            loss = loss.replace("separation lost now", "lost now")
        else:
            loss = closest = ""
            what.append(f" {a.get('kind', '')}: {a.get('message', '')}", style="dim")
        level = str(a.get("level", "?"))
        table.add_row(
            Text(level, style=_LEVEL_STYLE.get(level, "")),
            what,
            loss,
            closest,
            _hms(_iso_to_epoch(a.get("raised_at"))),
        )
    if len(order) > limit:
        table.caption = f"... and {len(order) - limit} more"
    return table


# -- options -------------------------------------------------------------------------------------

Server = Annotated[
    str,
    typer.Option("--server", help="Base URL of the sharedsky server, e.g. http://127.0.0.1:8082."),
]
TokenFile = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        help="File holding a bearer token (its 'sub' is the party; scopes "
        "sharedsky.tracks.write and/or sharedsky.picture.read).",
        show_default=False,
    ),
]
KeyFile = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="RSA private key (PEM) to sign a one-hour token for --party; the server must trust "
        "the matching public key (sharedsky serve --public-key).",
        show_default=False,
    ),
]
Via = Annotated[
    str, typer.Option("--via", help="Push transport: http (POST per batch) or ws (one WebSocket).")
]


# -- replay --------------------------------------------------------------------------------------


@dataclass
class _Tally:
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


def _push_replay(
    replay: TableReplay, client: LiveClient, tally: _Tally, stop: threading.Event | None = None
) -> None:
    """Push every batch of ``replay`` through ``client``; file rejects are counted, not sent."""
    for batch in replay.batches():
        if stop is not None and stop.is_set():
            replay.stop()
            break
        result = client.push(batch) if len(batch) else None
        tally.record(batch, result)


def _write_rejects(path: Path, tally: _Tally) -> None:
    with path.open("wb") as fh:
        for r in tally.local_rejects:
            fh.write(orjson.dumps({"where": "file", **r.to_dict()}) + b"\n")
        for r in tally.server_rejects:
            fh.write(orjson.dumps({"where": "server", **r}) + b"\n")


@app.command("replay")
def replay_command(
    recording: Annotated[
        Path,
        typer.Argument(
            help="Recording in traffic/OpenSky naming and units: .csv, .parquet, .json/.json.gz "
            "(records) or .jsonl; columns timestamp, icao24, latitude, longitude, altitude (ft), "
            "groundspeed (kt), track (deg), vertical_rate (ft/min).",
            show_default=False,
        ),
    ],
    server: Server,
    party: Annotated[
        str | None,
        typer.Option("--party", help="Party the tracks belong to (required with --key)."),
    ] = None,
    token_file: TokenFile = None,
    key: KeyFile = None,
    speed: Annotated[
        float,
        typer.Option("--speed", help="Replay speed, a multiple of real time (> 0).", min=1e-6),
    ] = 1.0,
    via: Via = "http",
    start: Annotated[
        str | None,
        typer.Option("--start", help="Recording time to start from (ISO 8601 UTC or epoch s)."),
    ] = None,
    keep_times: Annotated[
        bool,
        typer.Option(
            "--keep-times",
            help="Send the recorded times (default: each state is stamped with its replay time "
            "on the wall clock, so the server sees fresh data).",
        ),
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option(
            "--rejects",
            help="Write every rejected row (from the file or refused by the server) to this "
            "JSON-lines file.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Replay a recording as a party's live feed: 1-s batches at --speed x real time, pushed to
    a running server over HTTP or WebSocket, with a progress bar. Bad rows are reported with
    their row number and never stop the replay."""
    tokens = TokenSource.from_options(party, token_file, key, server)
    replay_start = _parse_time(start, "--start") if start else None
    report: list[Callable[[ReplayProgress], None]] = []
    replay = TableReplay(
        recording,
        speed=speed,
        start=replay_start,
        retime=not keep_times,
        progress=lambda p: [f(p) for f in report] and None,
    )
    _err.print(
        f"replaying {recording.name}: {replay.rows_total} rows, {replay.tracks_total} aircraft, "
        f"{replay.duration_s:.0f} s of recording from {_hms(replay.recording_start)} UTC at "
        f"{speed:g}x to {server} over {via}" + (f" as {party}" if party else ""),
    )
    tally = _Tally()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TextColumn("rec {task.fields[rec]} rej {task.fields[rej]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with (
        LiveClient(server, tokens, via=via) as client,
        Progress(*columns, console=_err, transient=False) as bar,
    ):
        task = bar.add_task("replay", total=replay.rows_total, rec="--:--:--", rej=0)

        def progress(p: ReplayProgress) -> None:
            bar.update(
                task,
                completed=p.rows_done,
                rec=_hms(p.recording_time),
                rej=p.rejected + len(tally.server_rejects),
            )

        report.append(progress)
        try:
            _push_replay(replay, client, tally)
        except KeyboardInterrupt:
            replay.stop()
            _err.print("[yellow]interrupted[/yellow]")
    _err.print(
        f"sent {tally.accepted} accepted states of {len(tally.tracks)} tracks in "
        f"{tally.sent_batches} batches; {len(tally.local_rejects)} rows rejected in the file, "
        f"{len(tally.server_rejects)} refused by the server, {tally.flagged} flagged "
        f"implausible, {tally.stale} stale"
    )
    for r in tally.local_rejects[:5]:
        _err.print(f"  row {r.index_or_line}: {r.reason}", highlight=False)
    for r in tally.server_rejects[:5]:
        _err.print(f"  server: record {r.get('index')}: {r.get('reason')}", highlight=False)
    if rejects is not None:
        _write_rejects(rejects, tally)
        _err.print(f"rejects written to {rejects}")


def _parse_time(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"not a time: {text!r} (ISO 8601 or epoch seconds)", name) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


# -- watch ---------------------------------------------------------------------------------------


def _watch_view(
    party: str,
    server: str,
    book: _AlertBook,
    counts: dict[str, Any],
    status: str,
    names: dict[str, str],
) -> Group:
    head = Text()
    head.append(f"{party}", style="bold")
    head.append(f" @ {server}   {datetime.now(UTC).strftime('%H:%M:%S')} UTC   ")
    head.append(
        f"tracks: own {counts.get('own', 0)}, others visible {counts.get('others', 0)}, "
        f"coasting {counts.get('coasting', 0)}   "
    )
    levels = book.by_level()
    head.append(f"active alerts {len(book.active)}  ")
    for lv in _LEVELS:
        head.append(f"{lv} {levels.get(lv, 0)} ", style=_LEVEL_STYLE[lv])
    head.append(f"  {status}", style="dim")
    recent = Text("\n").join(list(book.recent)) if book.recent else Text("no transitions yet")
    return Group(
        head,
        Panel(_alerts_table(book, names), title="active alerts (advisory only)"),
        Panel(recent, title="latest transitions"),
    )


@app.command("watch")
def watch_command(
    server: Server,
    party: Annotated[
        str | None,
        typer.Option("--party", help="Party to watch (required with --key)."),
    ] = None,
    token_file: TokenFile = None,
    key: KeyFile = None,
    for_s: Annotated[
        float | None,
        typer.Option("--for", help="Stop after this many seconds (default: until Ctrl-C).", min=0),
    ] = None,
    refresh: Annotated[
        float, typer.Option("--refresh", help="Seconds between picture reads.", min=0.1)
    ] = 1.0,
) -> None:
    """Show a party's live alerts (as they arrive over the alert WebSocket) and its track counts
    (own, other parties' visible, coasting) in the terminal. Alerts are advisory only."""
    tokens = TokenSource.from_options(party, token_file, key, server)
    who = party or "(token's party)"
    book = _AlertBook()
    names: dict[str, str] = {}
    inbox: queue.Queue[tuple[dict[str, Any], float]] = queue.Queue()
    listener = AlertListener(server, tokens, lambda m, t: inbox.put((m, t)), "watch").start()
    counts: dict[str, Any] = {}
    deadline = None if for_s is None else time.monotonic() + for_s
    status = "connecting"
    console = Console(highlight=False)
    with LiveClient(server, tokens) as client:
        next_read = 0.0
        with Live(console=console, refresh_per_second=4, transient=False) as live:
            try:
                while deadline is None or time.monotonic() < deadline:
                    if listener.error is not None:
                        raise listener.error
                    while not inbox.empty():
                        msg, received = inbox.get_nowait()
                        if msg.get("type") == "snapshot":
                            for a in msg.get("alerts", []):
                                book.add(a, who, received)
                        elif (
                            msg.get("type") == "alert"
                            and book.add(msg["alert"], who, received)
                            and book.notable
                        ):
                            book.recent.appendleft(
                                Text(_hms(received) + " ").append(
                                    describe_alert(msg["alert"], names)
                                )
                            )
                        elif msg.get("type") == "notice":
                            book.recent.appendleft(Text(f"{_hms(received)} notice: {msg}"))
                    if time.monotonic() >= next_read:
                        next_read = time.monotonic() + refresh
                        try:
                            pic = client.picture()
                            counts = pic.get("counts", {})
                            who = pic.get("party", who)
                            status = "live" if listener.connected.is_set() else "connecting"
                        except ServerUnavailable as exc:
                            status = f"server unreachable ({exc})"[:80]
                    live.update(_watch_view(who, server, book, counts, status, names))
                    time.sleep(0.1)
            except KeyboardInterrupt:
                pass
            finally:
                listener.stop()


# -- demo ----------------------------------------------------------------------------------------


def _generate_key_pair(folder: Path) -> tuple[bytes, Path, Path]:
    """A fresh RSA key pair: the private key in memory and in ``folder`` (mode 0600), the public
    key as a PEM file for the server."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_path = folder / "demo-key.pem"
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private)
    public_path = folder / "demo-key.pub.pem"
    public_path.write_bytes(public)
    return private, private_path, public_path


def _warm_engine() -> None:
    """Run the conflict engine once on two tracks, so that its kernels are compiled into the
    on-disk cache that the server process then loads (instead of compiling while the demo's
    first minute plays)."""
    from sharedsky.tactical import (
        DetectionParams,
        ProtectedVolume,
        TrackStates,
        detect_area_proximity,
        detect_conflicts,
    )

    two = TrackStates.from_arrays(
        ["a", "b"], ["x", "y"], [0.0, 0.0], [0.0, 0.0], [0.0, 0.01], [0.0, 0.0], [100.0, 100.0],
        [90.0, 270.0], [0.0, 0.0],
    )  # fmt: skip
    detect_conflicts(two, DetectionParams(now=0.0))
    square = ProtectedVolume(id="w", polygon=[(0.1, 0.1), (0.1, 0.2), (0.2, 0.2)])
    detect_area_proximity(two, [square], now=0.0)


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _server(folder: Path, public_key: Path, port: int) -> Iterator[str]:
    """``sharedsky serve`` as a subprocess on loopback with a SQLite file in ``folder``."""
    url = f"http://127.0.0.1:{port}"
    log_path = folder / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "sharedsky.cli",
        "serve",
        "--db",
        f"sqlite:///{folder / 'demo.sqlite'}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--public-key",
        str(public_key),
        "--audience",
        "127.0.0.1",
        "--audience",
        "localhost",
        "--log-level",
        "warning",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHAREDSKY_")}
    with log_path.open("wb") as log:
        # Its own session: Ctrl-C reaches the demo, which then stops the server in order.
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 90.0
            while True:
                if proc.poll() is not None:
                    raise ServerUnavailable(
                        "the demo server exited early:\n" + log_path.read_text()[-3000:]
                    )
                try:
                    if httpx.get(f"{url}/healthy", timeout=1.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise ServerUnavailable("the demo server did not start within 90 s")
                time.sleep(0.2)
            yield url
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@app.command("demo")
def demo_command(
    for_s: Annotated[
        float | None,
        typer.Option(
            "--for",
            help="Stop by itself after this many seconds and print a summary (default: run until "
            "the recording ends, then until Ctrl-C).",
            min=1,
        ),
    ] = None,
    speed: Annotated[
        float,
        typer.Option("--speed", help="Replay speed, a multiple of real time (> 0).", min=0.01),
    ] = 2.0,
    via: Via = "ws",
    port: Annotated[
        int | None,
        typer.Option("--port", help="Server port on 127.0.0.1 (default: a free one).", min=1),
    ] = None,
) -> None:
    """Run sharedsky on the embedded default and replay a real recording split between three
    parties, showing alerts as they arrive.

    Starts a server (SQLite in a temporary folder, loopback, a demo RSA key pair generated now
    and deleted at the end), then replays 8 minutes of real ADS-B traffic of the Paris TMA
    (2021-10-07 12:22-12:30 UTC, OpenSky Network via the traffic library; see
    sharedsky/demo/PROVENANCE.md) as three parties' feeds. Party rule: each aircraft belongs to
    one party by the operator prefix of its first callsign: alpha = AFR (Air France); bravo =
    EJU, EZY, TVF (easyJet Europe, easyJet UK, Transavia France); charlie = every other
    aircraft. Each party is subscribed to its alert stream; every alert is shown once, with the
    parties that received it. Alerts are advisory only.
    """
    from sharedsky.demo import PARTIES, PARTY_RULE, excerpt_path, split_by_party
    from sharedsky.feeds.tables import read_table

    frame = read_table(excerpt_path())
    names = (
        frame.dropna(subset=["callsign"])
        .groupby("icao24")["callsign"]
        .first()
        .str.strip()
        .to_dict()
    )
    parts = split_by_party(frame)
    folder = Path(tempfile.mkdtemp(prefix="sharedsky-demo-"))
    console = Console(highlight=False, soft_wrap=True)
    began = time.monotonic()
    with console.status("preparing the conflict engine (compiled on first use, then cached)"):
        _warm_engine()
    if time.monotonic() - began > 3:
        console.print(f"conflict engine compiled in {time.monotonic() - began:.0f} s (cached now)")
    try:
        private, private_path, public_path = _generate_key_pair(folder)
        port = port or _free_port()
        console.print(f"sharedsky demo: starting a server on 127.0.0.1:{port} (data in {folder})")
        with _server(folder, public_path, port) as url:
            summary = _run_demo(
                url, private, PARTIES, parts, names, speed, via, for_s, console, private_path
            )
        _print_summary(console, summary, PARTY_RULE)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class _DemoSummary:
    elapsed_s: float
    recording_s: float
    tallies: dict[str, _Tally]
    book: _AlertBook
    received: Counter[str]
    picture_counts: dict[str, dict[str, Any]]
    finished: bool


def _run_demo(
    url: str,
    private: bytes,
    parties: tuple[str, ...],
    parts: dict[str, Any],
    names: dict[str, str],
    speed: float,
    via: str,
    for_s: float | None,
    console: Console,
    private_path: Path,
) -> _DemoSummary:
    tokens = {
        p: TokenSource(party=p, private_key_pem=private, audience="127.0.0.1") for p in parties
    }
    book = _AlertBook()
    received: Counter[str] = Counter()
    lock = threading.Lock()

    def on_message(party: str) -> Callable[[dict[str, Any], float], None]:
        def handle(msg: dict[str, Any], t: float) -> None:
            if msg.get("type") != "alert":
                return
            with lock:
                received[party] += 1
                if book.add(msg["alert"], party, t) and book.notable:
                    line = Text(_hms(t) + " ").append(describe_alert(msg["alert"], names))
                    console.print(line)

        return handle

    listeners = [
        AlertListener(url, tokens[p], on_message(p), f"alerts-{p}").start() for p in parties
    ]
    for lst in listeners:
        if not lst.connected.wait(30):
            raise lst.error or ServerUnavailable("alert stream did not open within 30 s")
    # One time base for all parties: the same recording start and the same wall-clock anchor.
    first = float(min(parts[p]["timestamp"].min() for p in parties if len(parts[p])))
    rec_start = first / 1000.0 if first > 1e11 else first
    anchor = time.time() + 0.5
    replays = {
        p: TableReplay(parts[p], speed=speed, start=rec_start, anchor=anchor, name=f"demo:{p}")
        for p in parties
    }
    rec_end = max(r.recording_end for r in replays.values())
    console.print(
        f"replaying {sum(r.rows_total for r in replays.values())} positions of "
        f"{sum(r.tracks_total for r in replays.values())} aircraft "
        f"({', '.join(f'{p} {replays[p].tracks_total}' for p in parties)}), "
        f"{rec_end - rec_start:.0f} s of recording at {speed:g}x over {via}. Alerts "
        f"below as they are raised, change level or clear (advisory only). "
        f"Watch one party from another terminal with:\n"
        f"  sharedsky watch --server {url} --party alpha --key {private_path}"
    )
    tallies = {p: _Tally() for p in parties}
    stop = threading.Event()
    errors: list[BaseException] = []

    def run(p: str) -> None:
        try:
            with LiveClient(url, tokens[p], via=via) as client:
                _push_replay(replays[p], client, tallies[p], stop)
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,), name=f"replay-{p}") for p in parties]
    began = time.monotonic()
    for th in threads:
        th.start()
    finished = False
    try:
        while True:
            alive = any(th.is_alive() for th in threads)
            if for_s is not None and time.monotonic() - began >= for_s:
                break
            if not alive and not finished:
                finished = True
                console.print(
                    "recording finished" + ("" if for_s is not None else "; Ctrl-C to stop")
                )
            if errors:
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        console.print("stopping")
    stop.set()
    for r in replays.values():
        r.stop()
    for th in threads:
        th.join(timeout=10)
    counts: dict[str, dict[str, Any]] = {}
    for p in parties:
        try:
            with LiveClient(url, tokens[p]) as client:
                counts[p] = client.picture().get("counts", {})
        except SharedskyError as exc:
            console.print(f"[yellow]cannot read the picture of {p}: {exc.message}[/yellow]")
    for lst in listeners:
        lst.stop()
    if errors:
        exc = errors[0]
        if isinstance(exc, SharedskyError):
            raise exc
        raise ServerUnavailable(f"replay failed: {type(exc).__name__}: {exc}") from exc
    return _DemoSummary(
        elapsed_s=time.monotonic() - began,
        recording_s=min(rec_end - rec_start, (time.monotonic() - began) * speed),
        tallies=tallies,
        book=book,
        received=received,
        picture_counts=counts,
        finished=finished,
    )


def _print_summary(console: Console, s: _DemoSummary, rule: str) -> None:
    levels = s.book.by_level()
    total = len(s.book.max_level)
    tracks = sum(len(t.tracks) for t in s.tallies.values())
    console.print()
    console.print(
        f"[bold]summary[/bold]: {s.elapsed_s:.0f} s, {s.recording_s:.0f} s of recording replayed; "
        f"{tracks} tracks; {total} alerts ("
        + ", ".join(f"{lv} {levels.get(lv, 0)}" for lv in _LEVELS)
        + f"), {len(s.book.seen)} transitions"
    )
    table = Table(show_edge=False)
    columns = ("party", "tracks", "states sent", "rejected", "flagged", "own", "others", "alerts")
    for col in columns:
        table.add_column(col, justify="left" if col == "party" else "right")
    for p, t in s.tallies.items():
        c = s.picture_counts.get(p, {})
        mine = sum(1 for a in s.book.max_level if p in s.book.parties.get(a, ()))
        table.add_row(
            p,
            str(len(t.tracks)),
            str(t.accepted),
            str(len(t.local_rejects) + len(t.server_rejects)),
            str(t.flagged),
            str(c.get("own", 0)),
            str(c.get("others", 0)),
            str(mine),
        )
    console.print(table)
    same = sum(
        1 for k, got in s.book.received_by.items() if got >= set(s.book.parties.get(k[0], ()))
    )
    console.print(
        "alerts by level: "
        + ", ".join(f"{lv} {levels.get(lv, 0)}" for lv in _LEVELS)
        + f"; {same} of {len(s.book.received_by)} transitions received by every party involved"
    )
    if s.book.latency_s:
        lat = sorted(s.book.latency_s)
        console.print(
            f"delivery latency (detection to receipt): median {lat[len(lat) // 2] * 1000:.0f} ms, "
            f"max {lat[-1] * 1000:.0f} ms"
        )
    console.print(f"party rule: {rule}")
