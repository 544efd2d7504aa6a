"""The parties' inputs: each party's track picture, its push channel, its attached feeds.

:class:`PartyInputs` is the ingest side of the live service. It keeps one
:class:`~sharedsky.services.live.tracks.PartyTracks` per party, counts what each party pushed,
runs attached feeds in threads of their own (a feed failing never stops the service: its error
is kept and shown as its status), and says which parties and feeds have gone silent.
Thread-safe: every method may be called from any thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from sharedsky.feeds.base import Feed, FeedHealth
from sharedsky.model.alerts import AlertInput, AlertKind, LiveLevel
from sharedsky.model.tracks import NUMERIC_FIELDS, TrackBatch
from sharedsky.services.live.candidates import Candidate
from sharedsky.services.live.tracks import PartyTracks, Plausibility
from sharedsky.services.live.views import FeedStatus

__all__ = ["PartyInputs"]

log = logging.getLogger("sharedsky.live")


@dataclass
class _Push:
    messages: int = 0
    decoded: int = 0
    rejected: int = 0
    last: float | None = None


@dataclass
class _FeedRunner:
    party: str
    feed: Feed
    thread: threading.Thread | None = None
    error: str | None = None
    finished: bool = False


class PartyInputs:
    """Every party's tracks, push counters and feeds (see the module docstring).

    ``known``: the parties known from the start (the configuration's); a party becomes known
    too when it pushes, attaches a feed or is named otherwise. ``started_t``: when watching for
    silence began (a party never heard from is silent from then on).
    """

    def __init__(self, rules: Plausibility, known: Iterable[str], started_t: float) -> None:
        self._rules = rules
        self._lock = threading.Lock()
        self._tracks: dict[str, PartyTracks] = {}
        self._push: dict[str, _Push] = {}
        self._known: set[str] = set(known)
        self._feeds: list[_FeedRunner] = []
        self.started_t = started_t

    # -- input ----------------------------------------------------------------------------

    def ingest(self, party: str, batch: TrackBatch, now: float) -> tuple[int, int, int]:
        """Merge ``batch`` into ``party``'s picture; returns (applied, stale, flagged)."""
        with self._lock:
            self._known.add(party)
            tracks = self._tracks.get(party)
            if tracks is None:
                tracks = self._tracks[party] = PartyTracks(party)
            push = self._push.setdefault(party, _Push())
            push.messages += 1
            push.decoded += len(batch)
            push.rejected += len(batch.rejects)
            push.last = now
            return tracks.ingest(batch, now, self._rules)

    def attach_feed(
        self,
        party: str,
        feed: Feed,
        ingest: Callable[[str, TrackBatch], object],
        stop: threading.Event,
    ) -> threading.Thread:
        """Run ``feed`` in a new thread, handing each batch to ``ingest(party, batch)`` until
        the feed ends or ``stop`` is set. Returns the thread (started by the caller)."""
        runner = _FeedRunner(party, feed)

        def run() -> None:
            try:
                for batch in feed.batches():
                    if stop.is_set():
                        break
                    ingest(party, batch)
            except Exception as exc:  # a feed failing must not stop the service
                runner.error = f"{type(exc).__name__}: {exc}"
                log.warning("feed %s of %s failed: %s", feed.name, party, runner.error)
            finally:
                runner.finished = True

        runner.thread = threading.Thread(target=run, name=f"feed-{party}-{feed.name}", daemon=True)
        with self._lock:
            self._known.add(party)
            self._feeds.append(runner)
        return runner.thread

    def feed_threads(self) -> list[threading.Thread]:
        """The threads of the attached feeds (ended ones included)."""
        with self._lock:
            return [r.thread for r in self._feeds if r.thread is not None]

    # -- reading ----------------------------------------------------------------------------

    def parties(self) -> list[str]:
        with self._lock:
            return sorted(self._known)

    def feeds(self, party: str, now: float) -> list[FeedStatus]:
        """The inputs of ``party`` (its push channel and attached feeds) with their health."""
        out = []
        with self._lock:
            push = self._push.get(party)
            runners = [r for r in self._feeds if r.party == party]
        if push is not None:
            age = None if push.last is None else now - push.last
            health = FeedHealth(True, push.messages, push.decoded, push.rejected, age)
            out.append(FeedStatus("push", "push", health))
        for r in runners:
            h = r.feed.health()
            if r.finished:
                h = FeedHealth(False, h.messages, h.decoded, h.rejected, h.last_message_age_s)
            out.append(FeedStatus(r.feed.name, "feed", h, r.error))
        return out

    def drop_older(self, cutoff_t: float) -> list[tuple[str, str, float]]:
        """Drop tracks last reported before ``cutoff_t``: (party, track id, last time) each."""
        dropped = []
        with self._lock:
            for name, tracks in self._tracks.items():
                for tid, t in tracks.drop_older(cutoff_t):
                    dropped.append((name, tid, t))
        return dropped

    def snapshot(self) -> dict[str, np.ndarray]:
        """All parties' live rows concatenated (by party name), with a ``party`` column."""
        parts = []
        with self._lock:
            for name in sorted(self._tracks):
                snap = self._tracks[name].snapshot()
                if snap["t"].shape[0]:
                    snap["party"] = np.full(snap["t"].shape[0], name, dtype=object)
                    parts.append(snap)
        if not parts:
            empty = {k: np.empty(0) for k in (*NUMERIC_FIELDS, "received")}
            empty["track_id"] = np.empty(0, dtype=object)
            empty["party"] = np.empty(0, dtype=object)
            empty["flags"] = np.empty(0, dtype=np.int32)
            return empty
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    # -- silence ----------------------------------------------------------------------------

    def silence_candidates(self, now: float, limit_s: float) -> list[Candidate]:
        """SYSTEM candidates, to every known party, for each party silent longer than
        ``limit_s`` and each feed disconnected, failed, ended or silent that long."""
        with self._lock:
            everyone = tuple(sorted(self._known))
            last_push = {p: (s.last if (s := self._push.get(p)) else None) for p in everyone}
            runners = list(self._feeds)
        out = []
        for party in everyone:
            last = last_push[party]
            since = self.started_t if last is None else last
            if now - since <= limit_s:
                continue
            data_age = None if last is None else round(now - last, 3)
            out.append(
                Candidate(
                    f"party_silent|{party}",
                    AlertKind.PARTY_SILENT,
                    LiveLevel.SYSTEM,
                    everyone,
                    (AlertInput(kind="party", id=party, party=party, t=last, data_age_s=data_age),),
                    {"silent_s": round(now - since, 1), "limit_s": limit_s},
                    f"no data from {party} for {now - since:.0f} s: its traffic cannot be assessed",
                )
            )
        for r in runners:
            h = r.feed.health()
            why = _feed_silence(r, h, now - self.started_t, limit_s)
            if why is None:
                continue
            out.append(
                Candidate(
                    f"feed_silent|{r.party}|{r.feed.name}",
                    AlertKind.FEED_SILENT,
                    LiveLevel.SYSTEM,
                    everyone,
                    (AlertInput(kind="feed", id=r.feed.name, party=r.party),),
                    {"reason": why, "last_message_age_s": h.last_message_age_s},
                    f"feed {r.feed.name} of {r.party}: {why}",
                )
            )
        return out


def _feed_silence(r: _FeedRunner, h: FeedHealth, watched_s: float, limit_s: float) -> str | None:
    """Why a feed of health ``h`` counts as silent (None if it does not): its error, ended,
    disconnected, silent too long, or no data at all after ``limit_s`` of watching."""
    age = h.last_message_age_s
    silent = r.finished or not h.connected or (age is not None and age > limit_s)
    if age is None and watched_s > limit_s:
        silent = True
    if not silent:
        return None
    if r.error:
        return r.error
    if r.finished:
        return "ended"
    if not h.connected:
        return "disconnected"
    return f"silent for {age:.0f} s" if age is not None else "no data"
