"""The decoder interface shared by every raw surveillance format, plus its counters.

A decoder turns raw bytes of one format (SBS-1 text, Beast binary, readsb JSON, AIS NMEA,
ASTERIX) into :class:`~sharedsky.model.tracks.TrackBatch` objects. It is pure and incremental:
no sockets, no files, no clocks. Transports (:mod:`sharedsky.feeds.net`) read bytes and hand them
to a decoder; the same decoder serves a live socket and a file replay.

Contract of :class:`Decoder`:

* ``name`` — the format: ``"sbs"``, ``"beast"``, ``"readsb"``, ``"ais"``, ``"asterix"``;
* ``feed(data, now)`` — consume bytes in any chunking (a partial line or frame is kept until the
  rest arrives) and return the track states completed by them (possibly an empty batch), with a
  :class:`~sharedsky.model.tracks.Reject` for each malformed message. It never raises on bad
  input. ``now`` is the receive time (epoch seconds UTC), used when the format carries no time;
* ``flush(now)`` — end of stream (or a connection break): a truncated tail is dropped (counted
  as a rejected message) and whatever is complete is returned; the decoder is then ready for a
  fresh stream;
* ``counters`` — a :class:`DecoderCounters`: ``messages`` (complete messages seen: lines,
  frames, sentences, records), ``decoded`` (of those, turned into a track state or absorbed into
  one — e.g. one part of a multi-part message, a static-data message), ``rejected`` (malformed or
  unusable, each with a reject). Each decoder documents how a message it *ignores* on purpose
  (a format it does not use, such as an NMEA GPS sentence next to AIS) is counted; the invariant
  ``messages == decoded + rejected + ignored`` holds at every moment.

Optional: ``feed_datagram(data, now)`` — a decoder whose format has a meaning for datagram
boundaries defines it (ASTERIX: a datagram holds whole data blocks, nothing is carried over; AIS:
a datagram ends its last line); :class:`~sharedsky.feeds.net.UdpFeed` and pcap replays call it
when present, ``feed`` otherwise. A decoder holding resources may define ``close()``; transports
call it when they end.

Transports may call ``feed``/``flush`` from one thread while another thread reads
``counters.snapshot()``; the counters take a lock, the decoder itself is single-threaded.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sharedsky.model.tracks import TrackBatch

__all__ = [
    "CounterSnapshot",
    "Decoder",
    "DecoderCounters",
    "RateLimitedLog",
]


@dataclass(frozen=True)
class CounterSnapshot:
    """One consistent reading of a decoder's counters."""

    messages: int
    decoded: int
    rejected: int
    ignored: int


class DecoderCounters:
    """Monotonic message counters of a decoder; reads and updates are thread-safe.

    ``messages = decoded + rejected + ignored`` after every :meth:`add`.
    """

    __slots__ = ("_decoded", "_ignored", "_lock", "_messages", "_rejected")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages = 0
        self._decoded = 0
        self._rejected = 0
        self._ignored = 0

    def add(self, decoded: int = 0, rejected: int = 0, ignored: int = 0) -> None:
        """Count messages that ended as decoded, rejected or ignored (all at once)."""
        if decoded < 0 or rejected < 0 or ignored < 0:
            raise ValueError("counter increments must be >= 0")
        with self._lock:
            self._decoded += decoded
            self._rejected += rejected
            self._ignored += ignored
            self._messages += decoded + rejected + ignored

    @property
    def messages(self) -> int:
        with self._lock:
            return self._messages

    @property
    def decoded(self) -> int:
        with self._lock:
            return self._decoded

    @property
    def rejected(self) -> int:
        with self._lock:
            return self._rejected

    @property
    def ignored(self) -> int:
        with self._lock:
            return self._ignored

    def snapshot(self) -> CounterSnapshot:
        with self._lock:
            return CounterSnapshot(self._messages, self._decoded, self._rejected, self._ignored)

    def __repr__(self) -> str:
        s = self.snapshot()
        return (
            f"DecoderCounters(messages={s.messages}, decoded={s.decoded}, "
            f"rejected={s.rejected}, ignored={s.ignored})"
        )


@runtime_checkable
class Decoder(Protocol):
    """A pure, incremental decoder of one raw format (see the module docstring)."""

    name: str
    counters: DecoderCounters

    def feed(self, data: bytes, now: float) -> TrackBatch:
        """Consume ``data``; return the states it completes and rejects for bad messages."""
        ...

    def flush(self, now: float) -> TrackBatch:
        """End of stream: drop a truncated tail (counted), return what is complete."""
        ...


class RateLimitedLog:
    """Log a warning about bad input at most once per ``interval_s`` (with a count of the rest).

    Real receivers emit garbage continuously; one line per bad message would drown the log.
    """

    def __init__(self, logger: logging.Logger, interval_s: float = 10.0) -> None:
        self._logger = logger
        self._interval = interval_s
        self._last = -float("inf")
        self._suppressed = 0
        self._lock = threading.Lock()

    def warning(self, msg: str, *args: object) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self._interval:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._last = self._suppressed, 0, now
        if suppressed:
            self._logger.warning(msg + " (%d similar suppressed)", *args, suppressed)
        else:
            self._logger.warning(msg, *args)
