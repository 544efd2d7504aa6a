"""``sharedsky demo``: everything on the embedded default, a real recording split between
three parties, with every alert shown as the parties receive it and a summary at the end.

The demo is a shell over :mod:`sharedsky.client`: it starts ``sharedsky serve`` as a
subprocess (:class:`~sharedsky.client.ServerProcess`) with a key pair made for the run, then
each party pushes its share of the recording and listens to its alerts, as any party's own
software would. Alerts are shown with the display of :mod:`sharedsky.cli.live`.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sharedsky.cli import app
from sharedsky.cli.live import LEVELS, AlertBook, describe_alert, hms
from sharedsky.cli.options import Via
from sharedsky.client import (
    AlertListener,
    LiveClient,
    ReplayTally,
    ServerProcess,
    ServerStartFailed,
    ServerUnavailable,
    TokenSource,
    push_replay,
    write_key_pair,
)
from sharedsky.errors import SharedskyError
from sharedsky.feeds.tables import TableReplay

__all__ = ["demo_command"]


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


@contextlib.contextmanager
def _started(server: ServerProcess) -> Iterator[str]:
    """The URL of ``server``, started (its failures told as the demo's), stopped on leaving."""
    try:
        server.start()
    except ServerStartFailed as exc:
        if exc.exited:
            raise ServerUnavailable("the demo server exited early:\n" + exc.output[-3000:]) from exc
        raise ServerUnavailable(
            f"the demo server did not start within {server.startup_timeout_s:.0f} s"
        ) from exc
    try:
        yield server.url
    finally:
        server.stop()


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
        private, private_path, public_path = write_key_pair(folder, "demo-key")
        server = ServerProcess(
            f"sqlite:///{folder / 'demo.sqlite'}",
            [public_path],
            port=port,
            audiences=("127.0.0.1", "localhost"),
            extra_args=("--log-level", "warning"),
            log_path=folder / "server.log",
            startup_timeout_s=90.0,
            inherit_settings=False,
            url_host="127.0.0.1",
            own_session=True,  # Ctrl-C reaches the demo, which then stops the server in order
        )
        console.print(
            f"sharedsky demo: starting a server on 127.0.0.1:{server.port} (data in {folder})"
        )
        with _started(server) as url:
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
    tallies: dict[str, ReplayTally]
    book: AlertBook
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
    book = AlertBook()
    received: Counter[str] = Counter()
    lock = threading.Lock()

    def on_message(party: str) -> Callable[[dict[str, Any], float], None]:
        def handle(msg: dict[str, Any], t: float) -> None:
            if msg.get("type") != "alert":
                return
            with lock:
                received[party] += 1
                if book.add(msg["alert"], party, t) and book.notable:
                    line = Text(hms(t) + " ").append(describe_alert(msg["alert"], names))
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
    tallies = {p: ReplayTally() for p in parties}
    stop = threading.Event()
    errors: list[BaseException] = []

    def run(p: str) -> None:
        try:
            with LiveClient(url, tokens[p], via=via) as client:
                push_replay(replays[p], client, tallies[p], stop)
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
        + ", ".join(f"{lv} {levels.get(lv, 0)}" for lv in LEVELS)
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
        + ", ".join(f"{lv} {levels.get(lv, 0)}" for lv in LEVELS)
        + f"; {same} of {len(s.book.received_by)} transitions received by every party involved"
    )
    if s.book.latency_s:
        lat = sorted(s.book.latency_s)
        console.print(
            f"delivery latency (detection to receipt): median {lat[len(lat) // 2] * 1000:.0f} ms, "
            f"max {lat[-1] * 1000:.0f} ms"
        )
    console.print(f"party rule: {rule}")
