"""Live commands: ``sharedsky replay`` (a recording pushed to a server as one party's feed)
and ``sharedsky watch`` (a party's live alerts and track counts in the terminal), with the
display of alerts that ``sharedsky demo`` (:mod:`sharedsky.cli.demo`) shares.

These commands are shells over :mod:`sharedsky.client`, which speaks to the live tactical
service (``/live/v1``, see :mod:`sharedsky.api.live`) over its public HTTP and WebSocket
interface, exactly as another party's software would. Credentials: a bearer token in a file
(``--token-file``), or an RSA private key (``--key``) with which the command signs its own
short-lived RS256 token for ``--party``; the server must trust the matching public key
(``sharedsky serve --public-key``).
"""

from __future__ import annotations

import queue
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

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
from sharedsky.cli.options import KeyFile, Party, Server, TokenFile, Via
from sharedsky.client import (
    AlertListener,
    LiveClient,
    ReplayTally,
    ServerUnavailable,
    TokenSource,
    push_replay,
)
from sharedsky.errors import InvalidInput
from sharedsky.feeds.tables import ReplayProgress, TableReplay
from sharedsky.units import M_TO_FT, NM_TO_M

__all__ = [
    "LEVELS",
    "AlertBook",
    "describe_alert",
    "hms",
    "replay_command",
    "watch_command",
]

LEVELS = ("WARNING", "CAUTION", "ADVISORY", "SYSTEM")
"""Alert levels, most urgent first."""
_LEVEL_STYLE = {"WARNING": "bold red", "CAUTION": "yellow", "ADVISORY": "cyan", "SYSTEM": "magenta"}

_err = Console(stderr=True, highlight=False, soft_wrap=True)


# -- display helpers -----------------------------------------------------------------------------


def hms(t: float | None) -> str:
    """An epoch time as ``HH:MM:SS`` UTC (``--:--:--`` when unknown)."""
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
class AlertBook:
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
        if old is None or LEVELS.index(level) < LEVELS.index(old):
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


def _alerts_table(book: AlertBook, names: dict[str, str], limit: int = 15) -> Table:
    table = Table(expand=True, show_edge=False, pad_edge=False)
    table.add_column("level", no_wrap=True, min_width=8)
    table.add_column("what", ratio=1, min_width=24, overflow="fold")
    table.add_column("loss", no_wrap=True)
    table.add_column("closest", no_wrap=True)
    table.add_column("since", no_wrap=True, min_width=8)
    order = sorted(
        book.active.values(),
        key=lambda a: (LEVELS.index(a.get("level", "SYSTEM")), a.get("raised_at", "")),
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
            hms(_iso_to_epoch(a.get("raised_at"))),
        )
    if len(order) > limit:
        table.caption = f"... and {len(order) - limit} more"
    return table


# -- replay --------------------------------------------------------------------------------------


def _write_rejects(path: Path, tally: ReplayTally) -> None:
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
    party: Party = None,
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
        f"{replay.duration_s:.0f} s of recording from {hms(replay.recording_start)} UTC at "
        f"{speed:g}x to {server} over {via}" + (f" as {party}" if party else ""),
    )
    tally = ReplayTally()
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
                rec=hms(p.recording_time),
                rej=p.rejected + len(tally.server_rejects),
            )

        report.append(progress)
        try:
            push_replay(replay, client, tally)
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
    book: AlertBook,
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
    for lv in LEVELS:
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
    book = AlertBook()
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
                                Text(hms(received) + " ").append(
                                    describe_alert(msg["alert"], names)
                                )
                            )
                        elif msg.get("type") == "notice":
                            book.recent.appendleft(Text(f"{hms(received)} notice: {msg}"))
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


