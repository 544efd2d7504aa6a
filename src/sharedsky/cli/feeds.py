"""``sharedsky feed``: decode a surveillance feed here and push its tracks to a server.

A party runs this next to its receiver (readsb, dump1090, an AIS receiver, an ASTERIX
distribution): the raw format is decoded locally and the track states are pushed to a running
sharedsky server as the party's live tracks (WebSocket by default). Without ``--server`` the
feed is only decoded and its counts shown (a check of the receiver before connecting).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sharedsky.cli import app
from sharedsky.cli.options import KeyFile, Party, TokenFile
from sharedsky.client import LiveClient, ServerUnavailable, TokenSource
from sharedsky.errors import InvalidInput
from sharedsky.feeds.net import (
    DECODERS,
    FeedSpec,
    FileReplayFeed,
    ReplayProgress,
    open_feed,
)

__all__ = ["feed_command", "spec_from_address"]

_err = Console(stderr=True, highlight=False, soft_wrap=True)


def spec_from_address(
    ftype: str, address: str, *, speed: float = 1.0, interval_s: float = 1.0
) -> FeedSpec:
    """``tcp:HOST:PORT`` (connect), ``udp:HOST:PORT`` (bind), ``http(s)://...`` or
    ``poll:PATH`` (poll a document), anything else a recording file to replay."""
    if address.startswith(("tcp:", "udp:")):
        doc = {"type": ftype, address[:3]: address[4:]}
    elif address.startswith(("http://", "https://")):
        doc = {"type": ftype, "url": address, "interval_s": interval_s}
    elif address.startswith("poll:"):
        doc = {"type": ftype, "url": address[5:], "interval_s": interval_s}
    else:
        if not Path(address).is_file():
            raise InvalidInput(
                f"{address!r} is neither tcp:HOST:PORT, udp:HOST:PORT, a URL, poll:PATH nor "
                "an existing recording file",
                "ADDRESS",
            )
        doc = {"type": ftype, "file": address, "speed": speed}
    return FeedSpec.from_dict(doc, "ADDRESS")


@app.command("feed")
def feed_command(
    ftype: Annotated[
        str,
        typer.Argument(
            metavar="TYPE", help=f"Format: {', '.join(sorted(DECODERS))}.", show_default=False
        ),
    ],
    address: Annotated[
        str,
        typer.Argument(
            help="tcp:HOST:PORT (connect to a receiver, e.g. tcp:127.0.0.1:30003), udp:HOST:PORT "
            "(listen), http(s)://... or poll:PATH (poll aircraft.json), or a recording file "
            "(replayed; pcap/pcapng captures too).",
            show_default=False,
        ),
    ],
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            help="Base URL of the sharedsky server (default: decode only, print counts).",
            show_default=False,
        ),
    ] = None,
    party: Party = None,
    token_file: TokenFile = None,
    key: KeyFile = None,
    via: Annotated[
        str, typer.Option("--via", help="Push transport: ws (one WebSocket) or http.")
    ] = "ws",
    speed: Annotated[
        float,
        typer.Option(
            "--speed", help="Replay speed of a recording (0: as fast as possible).", min=0
        ),
    ] = 1.0,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between polls of a URL.", min=0.05)
    ] = 1.0,
    duration: Annotated[
        float | None,
        typer.Option(
            "--for",
            help="Stop after this many seconds (default: until the feed ends or Ctrl-C).",
            min=0,
            show_default=False,
        ),
    ] = None,
    every: Annotated[
        float, typer.Option("--every", help="Seconds between status lines.", min=0.1)
    ] = 5.0,
) -> None:
    """Decode a surveillance feed (SBS-1, Beast, readsb JSON, AIS NMEA, ASTERIX) and push its
    tracks to a server as a party's live feed; reconnects with backoff, never stops on bad
    input (rejects are counted and summarised)."""
    if ftype not in DECODERS:
        raise InvalidInput(f"must be one of {sorted(DECODERS)}, got {ftype!r}", "TYPE")
    spec = spec_from_address(ftype, address, speed=speed, interval_s=interval)
    tokens = TokenSource.from_options(party, token_file, key, server) if server else None
    progress_cb: list[Callable[[ReplayProgress], None]] = []
    feed = open_feed(spec, progress=lambda p: [f(p) for f in progress_cb] and None)
    client = LiveClient(server, tokens, via=via) if server and tokens else None
    if duration is not None:
        timer = threading.Timer(duration, feed.stop)
        timer.daemon = True
        timer.start()
    reasons: Counter[str] = Counter()
    pushed = accepted = unsent = 0
    tracks: set[str] = set()
    _err.print(
        f"{feed.name}"
        + (f" -> {server} as {party or 'token subject'} over {via}" if server else " (decode only)")
    )
    t_start = last_status = time.monotonic()
    last_messages = 0

    def status() -> str:
        h = feed.health()
        age = "-" if h.last_message_age_s is None else f"{h.last_message_age_s:.1f} s"
        return (
            f"{'connected' if h.connected else 'not connected'}, {h.messages} messages, "
            f"{h.decoded} decoded, {h.rejected} rejected, last {age} ago; {len(tracks)} tracks"
            + (f", {accepted} states accepted by the server" if client else "")
        )

    bar: Progress | None = None
    if isinstance(feed, FileReplayFeed):
        bar = Progress(
            TextColumn("[bold]replay"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=_err,
        )
        task = bar.add_task("replay", total=None, info="")

        def on_progress(p: ReplayProgress) -> None:
            assert bar is not None
            bar.update(task, total=p.total, completed=p.done, info=f"{len(tracks)} tracks")

        progress_cb.append(on_progress)
        bar.start()
    try:
        for batch in feed.batches():
            for r in batch.rejects:
                reasons[r.reason[:80]] += 1
            if len(batch):
                tracks.update(batch.track_id.tolist())
                if client is not None:
                    try:
                        result = client.push(batch)
                    except ServerUnavailable as exc:
                        unsent += len(batch)
                        if unsent == len(batch):
                            _err.print(f"[yellow]push failed[/yellow] ({exc}); retrying")
                    else:
                        pushed += 1
                        accepted += result.accepted
            now = time.monotonic()
            if bar is None and now - last_status >= every:
                h = feed.health()
                rate = (h.messages - last_messages) / (now - last_status)
                last_messages, last_status = h.messages, now
                _err.print(f"{rate:.0f} msg/s; " + status())
    except KeyboardInterrupt:
        feed.stop()
        _err.print("[yellow]interrupted[/yellow]")
    finally:
        if bar is not None:
            bar.stop()
        if client is not None:
            client.close()
        close = getattr(feed.decoder, "close", None)
        if close is not None:
            close()
    _err.print(
        f"after {time.monotonic() - t_start:.1f} s: "
        + status()
        + (f"; {unsent} states not sent (server unreachable)" if unsent else "")
    )
    for reason, n in reasons.most_common(5):
        _err.print(f"  {n} rejected: {reason}")
