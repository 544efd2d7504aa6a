"""The feed interface: any source of track batches for one party.

A feed is a small, separate piece (a table replay, an SBS-1 socket, a readsb poller, an AIS
decoder...) that yields :class:`~sharedsky.model.tracks.TrackBatch` objects. It knows nothing
about parties, alerting or storage: the live service attaches a feed to a party and ingests what
it yields, exactly as it ingests a push over HTTP or WebSocket.

Contract of :class:`Feed`:

* ``name`` — a short human label (``"replay:traffic_quickstart"``, ``"sbs:host:30003"``);
* ``batches()`` — a blocking, pull-based iterator of batches; the feed paces itself (a replay
  sleeps between batches, a socket feed blocks on reads). Bad records are never raised: they are
  returned in ``batch.rejects`` with their index or line number, raw text and reason. The
  iterator ends when the source is exhausted; raising ends the feed (the service reports it as a
  SYSTEM alert: feed silent);
* ``health()`` — a :class:`FeedHealth` snapshot, cheap and thread-safe (the service calls it
  from another thread than the one iterating ``batches()``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sharedsky.model.tracks import TrackBatch

__all__ = ["Feed", "FeedHealth"]


@dataclass(frozen=True)
class FeedHealth:
    """State of a feed at one moment.

    ``connected``: the source is open (a finished replay is not); ``messages``: raw messages or
    rows read so far; ``decoded``: of those, accepted into batches; ``rejected``: turned into
    rejects; ``last_message_age_s``: seconds since the last message was read (``None`` before the
    first one).
    """

    connected: bool
    messages: int
    decoded: int
    rejected: int
    last_message_age_s: float | None


@runtime_checkable
class Feed(Protocol):
    """A source of track batches for one party (see the module docstring)."""

    name: str

    def batches(self) -> Iterator[TrackBatch]:
        """Yield batches until the source ends (blocking; paced by the feed)."""
        ...

    def health(self) -> FeedHealth:
        """A snapshot of the feed's state (thread-safe)."""
        ...
