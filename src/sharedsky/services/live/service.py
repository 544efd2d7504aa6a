"""The live tactical service: tracks in, one picture per party, alerts out to every party involved.

:class:`LiveService` keeps, per party, the latest state of each of its tracks
(:class:`~sharedsky.services.live.tracks.PartyTracks`), runs the tactical engine over all
parties' tracks in detection cycles, keeps the alert book (stable ids: raised, updated,
cleared), delivers each transition at once to every involved party's subscriptions, and appends
every transition and delivery to the store's event table.

Cycles
    :meth:`start` runs cycles in a background thread: at least ``rate_hz`` per second (default 1),
    and sooner when new data arrive, but at most ``max_rate_hz`` per second (default 5). The
    position-to-alert delay is therefore at most ``1/max_rate_hz`` plus one cycle's computation.
    :meth:`run_detection_cycle` runs one cycle synchronously (tests and replays drive time with
    an explicit ``now``).

What a cycle detects (inputs whose data failed plausibility are left out, see below):

* **conflicts** between tracks of different parties (:func:`sharedsky.tactical.detect_conflicts`
  with the configured minima table, look-ahead, data-quality margins and lead times). Levels:
  WARNING / CAUTION as classified by the engine, ADVISORY for a conflict predicted later in the
  look-ahead, SYSTEM (kind ``cannot_assess``) for a pair the engine cannot assess because a
  track is older than ``quality.max_age_s``. Two tracks of different parties with the SAME track
  id (the same ICAO address seen by both) are taken as one aircraft seen twice: no conflict
  alert between them; they stay two tracks in the pictures.
* **area proximity** against the configured volumes and against every plan (operational intent)
  and hazard volume (constraint) in the DSS whose time window overlaps the look-ahead. The DSS
  keeps only S2 cells: a DSS volume is the union of its covering cells, outer rings only
  (:func:`sharedsky.geo.outline.cells_outline`), which contains the filed outline (conservative,
  about one 1-km cell larger), with the entity's altitude band and time window. A party's own
  plans and owned volumes are not areas for its own tracks (that is conformance). Level:
  WARNING when inside now or entering within ``warning_s``, CAUTION within ``caution_s``,
  ADVISORY later in the look-ahead. Involved: the track's party and the volume's owner.
* **line crossings** of configured borders and lines (levels as for areas; involved: the
  track's party and the line's parties). Only lines concerning the track's party are checked.
* **conformance** of tracks linked to a plan of their own party: a link comes from the
  configuration (``parties.<p>.links``) or :meth:`link_track`, and is accepted only for an
  operational intent managed by that same party (its token subject). A linked track outside its
  plan's outline (cells) or altitude band, beyond ``conformance_tolerance_m``, or without an
  active plan volume, raises a CAUTION ``conformance`` alert to its party.
* **plausibility**: reports flagged ``speed`` (above Mach 3), ``jump`` (hundreds of km away from
  the previous report) or ``future`` (beyond the tolerance) are kept in the picture with their
  flags but NOT trusted: the track is excluded from all the detections above and gets one SYSTEM
  ``implausible`` alert (to its party) instead, until a consistent report arrives. A track
  lacking a required kinematic field (altitude, speed, track, vertical rate) cannot be assessed
  either: one SYSTEM ``cannot_assess`` alert to its party.
* **silence**: a party known to the service (configured or seen) from which nothing arrived for
  ``silence_after_s``, or an attached feed that is disconnected, failed or silent that long,
  raises a SYSTEM alert to every known party (everyone's picture is degraded).

Tracks coast after ``coast_after_s`` without report (shown as ``coasting``; the engine widens
their margins with age) and are dropped after ``drop_after_s`` with a notice to their party and
an event in the record.

Alert transitions: an alert is *raised* when its key (kind + inputs) is first detected,
*updated* when its level changes or its geometry changes materially (CPA distance by more than
max(200 m, 10 %), CPA or entry time by more than 5 s, inside/LoS or flags change), and
*cleared* when not detected for longer than ``clear_after_s``. Every transition is published to
the subscriptions of every involved party in the same step (the same dictionary, so the same
content), appended to the in-memory history (``history_max`` transitions) and to the event table
(``entity_type`` ``live_alert``, operation ``raised``/``updated``/``cleared``; deliveries as
``delivered`` with the party and channel).

Need to know (:meth:`picture`): a party sees all its own tracks, and another party's track only
within ``visibility_m`` of one of its own tracks, of one of its active plans or owned volumes,
or of a line that concerns it. Alerts: exactly those that involve it. Feeds and party
configuration: its own only.

Deployment: the picture lives in the memory of the process that receives the tracks. Several
``serve`` replicas may share the DSS database, but each runs its own live picture; tracks of all
parties that must be deconflicted together must be sent to the same process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from sharedsky.errors import InvalidInput, NotFound, SharedskyError, reject_nul
from sharedsky.feeds.base import Feed, FeedHealth
from sharedsky.geo.outline import cells_outline
from sharedsky.model.alerts import Alert, AlertInput, AlertKind, AlertStatus, LiveLevel
from sharedsky.model.events import SYSTEM_ACTOR, EntityType, Event, Operation
from sharedsky.model.tracks import NUMERIC_FIELDS, Reject, TrackBatch
from sharedsky.services.live.config import LiveConfig
from sharedsky.services.live.tracks import PartyTracks, Plausibility, flag_names
from sharedsky.tactical import (
    DetectionParams,
    ProtectedVolume,
    TrackStates,
    classify,
    conformance,
    detect_area_proximity,
    detect_conflicts,
    detect_line_crossings,
)
from sharedsky.units import EARTH_RADIUS_M

__all__ = [
    "AlertSubscription",
    "CycleReport",
    "FeedStatus",
    "IngestResult",
    "LiveService",
    "TrackView",
]

log = logging.getLogger("sharedsky.live")

_STATE_FIELDS = (
    "party",
    "t",
    "lat",
    "lon",
    "alt_m",
    "gs_mps",
    "trk_deg",
    "vs_mps",
    "pos_accuracy_m",
    "vel_accuracy_mps",
)
_ACTIVE_OIR_STATES = {"Accepted", "Activated", "Nonconforming", "Contingent"}
_MAX_PARTY_LEN = 255


def _iso(t: float | None) -> str | None:
    if t is None or not math.isfinite(t):
        return None
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _f(x: Any) -> float | None:
    v = float(x)
    return v if math.isfinite(v) else None


def check_party(party: Any) -> str:
    if not isinstance(party, str) or not party or len(party) > _MAX_PARTY_LEN:
        raise InvalidInput("must be a non-empty string of at most 255 characters", "party")
    return reject_nul(party, "party")


# -- results and views --------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestResult:
    """Outcome of one ingested batch.

    ``accepted``: records accepted (valid); ``rejected``: the records refused, with index, raw
    text and reason; ``flagged``: accepted reports that failed plausibility (kept, not trusted);
    ``stale``: accepted reports not newer than the stored state of their track (ignored).
    """

    accepted: int
    rejected: tuple[Reject, ...]
    flagged: int
    stale: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": [r.to_dict() for r in self.rejected],
            "flagged": self.flagged,
            "stale": self.stale,
        }


@dataclass(frozen=True)
class TrackView:
    """One track of a picture: the party that reported it, its latest state and data age."""

    party: str
    track_id: str
    t: float
    age_s: float
    lat: float
    lon: float
    alt_m: float | None
    gs_mps: float | None
    trk_deg: float | None
    vs_mps: float | None
    status: str  # "live" or "coasting"
    flags: tuple[str, ...]
    own: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "track_id": self.track_id,
            "t": _iso(self.t),
            "age_s": round(self.age_s, 3),
            "lat": self.lat,
            "lon": self.lon,
            "alt_m": self.alt_m,
            "gs_mps": self.gs_mps,
            "trk_deg": self.trk_deg,
            "vs_mps": self.vs_mps,
            "status": self.status,
            "flags": list(self.flags),
            "own": self.own,
        }


@dataclass(frozen=True)
class FeedStatus:
    """A party's input: an attached feed or its push channel, with its health."""

    name: str
    kind: str  # "feed" or "push"
    health: FeedHealth
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        h = self.health
        return {
            "name": self.name,
            "kind": self.kind,
            "connected": h.connected,
            "messages": h.messages,
            "decoded": h.decoded,
            "rejected": h.rejected,
            "last_message_age_s": h.last_message_age_s,
            "error": self.error,
        }


@dataclass(frozen=True)
class CycleReport:
    """What one detection cycle did."""

    now: float
    tracks: int
    trusted: int
    transitions: tuple[Alert, ...]
    active: int
    duration_s: float


class AlertSubscription:
    """A party's stream of alert transitions and notices (thread-safe producer side).

    Items are dicts: ``{"type": "alert", "alert": {...}}`` or ``{"type": "notice", ...}``; the
    alert dict is the same object for every party involved. Consume with ``async for`` (or
    ``await get()``) on an event loop, or :meth:`drain` without one. A consumer that falls more
    than ``maxlen`` items behind loses the oldest and gets one ``{"type": "lagged", "lost": n}``
    item.
    """

    def __init__(self, service: LiveService, party: str, maxlen: int = 10_000) -> None:
        self.service = service
        self.party = party
        self._items: deque[dict[str, Any]] = deque()
        self._maxlen = maxlen
        self._lost = 0
        self._lock = threading.Lock()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        with contextlib.suppress(RuntimeError):
            self._bind(asyncio.get_running_loop())

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is None:
            self._event = asyncio.Event()
            self._loop = loop

    def push(self, item: dict[str, Any]) -> None:
        with self._lock:
            if self._closed:
                return
            self._items.append(item)
            if len(self._items) > self._maxlen:
                self._items.popleft()
                self._lost += 1
        loop, event = self._loop, self._event
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(event.set)

    def _pop(self) -> dict[str, Any] | None:
        with self._lock:
            if self._lost:
                lost, self._lost = self._lost, 0
                return {"type": "lagged", "lost": lost}
            return self._items.popleft() if self._items else None

    def drain(self) -> list[dict[str, Any]]:
        """Every item waiting now (non-blocking)."""
        out = []
        while (item := self._pop()) is not None:
            out.append(item)
        return out

    async def get(self) -> dict[str, Any]:
        """The next item (waits)."""
        self._bind(asyncio.get_running_loop())
        assert self._event is not None
        while True:
            self._event.clear()
            item = self._pop()
            if item is not None:
                return item
            if self._closed:
                raise StopAsyncIteration
            await self._event.wait()

    def __aiter__(self) -> AlertSubscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        return await self.get()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.service._unsubscribe(self)
        loop, event = self._loop, self._event
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)


# -- internal records ---------------------------------------------------------------------------


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


@dataclass
class _Active:
    alert: Alert
    last_seen: float


@dataclass(frozen=True, eq=False)
class _AreaSource:
    volume: ProtectedVolume
    owner: str | None
    kind: str  # "volume" (configured), "plan", "hazard"
    entity_id: str


@dataclass
class _Candidate:
    key: str
    kind: AlertKind
    level: LiveLevel
    parties: tuple[str, ...]
    inputs: tuple[AlertInput, ...]
    geometry: dict[str, Any]
    message: str


@dataclass
class _DssCache:
    loaded: float = -math.inf
    areas: list[_AreaSource] = field(default_factory=list)
    plans: dict[str, tuple[str, list[ProtectedVolume]]] = field(default_factory=dict)
    outlines: dict[tuple[str, str, int], list[list[tuple[float, float]]]] = field(
        default_factory=dict
    )


def _destination(
    lat: np.ndarray, lon: np.ndarray, trk_deg: np.ndarray, dist_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Great-circle destination points (degrees)."""
    p = np.radians(lat)
    lam = np.radians(lon)
    th = np.radians(trk_deg)
    d = dist_m / EARTH_RADIUS_M
    p2 = np.arcsin(np.clip(np.sin(p) * np.cos(d) + np.cos(p) * np.sin(d) * np.cos(th), -1, 1))
    l2 = lam + np.arctan2(np.sin(th) * np.sin(d) * np.cos(p), np.cos(d) - np.sin(p) * np.sin(p2))
    return np.degrees(p2), (np.degrees(l2) + 180.0) % 360.0 - 180.0


def _ecef(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    p, lam = np.radians(lat), np.radians(lon)
    return EARTH_RADIUS_M * np.column_stack(
        [np.cos(p) * np.cos(lam), np.cos(p) * np.sin(lam), np.sin(p)]
    )


def _local(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> tuple[Any, Any]:
    dlon = (np.asarray(lon) - lon0 + 180.0) % 360.0 - 180.0
    x = EARTH_RADIUS_M * np.radians(dlon) * math.cos(math.radians(lat0))
    y = EARTH_RADIUS_M * np.radians(np.asarray(lat) - lat0)
    return x, y


# -- the service --------------------------------------------------------------------------------


class LiveService:
    """The live picture and alerting for all parties (see the module docstring).

    ``store`` is a :class:`sharedsky.store.Store` (plans, hazards and the event table) or
    ``None`` (no DSS volumes, no record: tests and offline replays). ``clock`` returns the
    current time as epoch seconds (``time.time`` by default; tests pass a fake clock).
    """

    def __init__(
        self,
        store: Any | None,
        config: LiveConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.config = config or LiveConfig()
        self.clock = clock
        cfg = self.config
        self._rules = Plausibility(
            cfg.max_speed_mps, cfg.jump_tolerance_m, cfg.future_tolerance_s, cfg.carry_forward_s
        )
        self._lock = threading.RLock()
        self._parties: dict[str, PartyTracks] = {}
        self._push: dict[str, _Push] = {}
        self._known: set[str] = set(cfg.parties)
        self._feeds: list[_FeedRunner] = []
        self._links: dict[tuple[str, str], str] = {
            (p, tid): plan for p, pc in cfg.parties.items() for tid, plan in pc.links.items()
        }
        self._active: dict[str, _Active] = {}
        self._history: deque[Alert] = deque(maxlen=cfg.history_max)
        self._subs: set[AlertSubscription] = set()
        self._pending_events: list[tuple[float, str, str, str, str, dict[str, Any]]] = []
        self._events_lock = threading.Lock()
        self._dss = _DssCache()
        self._started_t = clock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._autostart = False
        self._recorder: threading.Thread | None = None
        self._record_wake = threading.Event()
        self._cycle_lock = threading.Lock()
        self.last_cycle: CycleReport | None = None
        self._lists_cache: tuple[TrackStates, dict[str, list[Any]]] | None = None
        self.cycles = 0

    # -- input ----------------------------------------------------------------------------

    def ingest(self, party: str, batch: TrackBatch, now: float | None = None) -> IngestResult:
        """Merge a batch of ``party``'s track states into its picture (see module docstring).

        Returns counts; the batch's rejects are passed through. Wakes the detection loop.
        """
        check_party(party)
        if not isinstance(batch, TrackBatch):
            raise InvalidInput(f"expected a TrackBatch, got {type(batch).__name__}", "batch")
        now = self.clock() if now is None else float(now)
        with self._lock:
            self._known.add(party)
            tracks = self._parties.get(party)
            if tracks is None:
                tracks = self._parties[party] = PartyTracks(party)
            push = self._push.setdefault(party, _Push())
            push.messages += 1
            push.decoded += len(batch)
            push.rejected += len(batch.rejects)
            push.last = now
            applied, stale, flagged = tracks.ingest(batch, now, self._rules)
        if applied:
            self._ensure_running()
            self._wake.set()
        return IngestResult(len(batch), batch.rejects, flagged, stale)

    def attach_feed(self, party: str, feed: Feed) -> None:
        """Run ``feed`` in a background thread, ingesting its batches as ``party``'s tracks."""
        check_party(party)
        if not isinstance(feed, Feed):
            raise InvalidInput("does not implement the Feed protocol", "feed")
        runner = _FeedRunner(party, feed)

        def run() -> None:
            try:
                for batch in feed.batches():
                    if self._stop.is_set():
                        break
                    self.ingest(party, batch)
            except Exception as exc:  # a feed failing must not stop the service
                runner.error = f"{type(exc).__name__}: {exc}"
                log.warning("feed %s of %s failed: %s", feed.name, party, runner.error)
            finally:
                runner.finished = True

        runner.thread = threading.Thread(target=run, name=f"feed-{party}-{feed.name}", daemon=True)
        with self._lock:
            self._known.add(party)
            self._feeds.append(runner)
        self._ensure_running()
        runner.thread.start()

    def link_track(self, party: str, track_id: str, plan_id: str) -> None:
        """Link ``party``'s track to its own plan (operational intent) for conformance.

        :class:`NotFound` when the plan does not exist or is another party's (no difference is
        shown to the caller).
        """
        check_party(party)
        if not isinstance(track_id, str) or not track_id:
            raise InvalidInput("must be a non-empty string", "track_id")
        if not isinstance(plan_id, str) or not plan_id:
            raise InvalidInput("must be a non-empty string", "plan_id")
        reject_nul(plan_id, "plan_id")
        if self.store is None:
            raise NotFound(f"no plan {plan_id} (this service has no DSS store)")
        with self.store.read() as tx:
            rec = tx.get_oir(plan_id)
        if rec is None or rec.manager != party:
            raise NotFound(f"no plan {plan_id} of party {party}")
        with self._lock:
            self._links[(party, track_id)] = plan_id
            self._dss.loaded = -math.inf  # refresh plan outlines at the next cycle

    def unlink_track(self, party: str, track_id: str) -> None:
        with self._lock:
            if self._links.pop((party, track_id), None) is None:
                raise NotFound(f"track {track_id} of {party} is not linked")

    def links(self, party: str) -> dict[str, str]:
        with self._lock:
            return {tid: plan for (p, tid), plan in self._links.items() if p == party}

    # -- reading ----------------------------------------------------------------------------

    def parties(self) -> list[str]:
        with self._lock:
            return sorted(self._known)

    def feeds(self, party: str) -> list[FeedStatus]:
        """The inputs of ``party`` (its push channel and attached feeds) with their health."""
        now = self.clock()
        out = []
        with self._lock:
            push = self._push.get(party)
            runners = [r for r in self._feeds if r.party == party]
        if push is not None:
            out.append(
                FeedStatus(
                    "push",
                    "push",
                    FeedHealth(
                        True,
                        push.messages,
                        push.decoded,
                        push.rejected,
                        None if push.last is None else now - push.last,
                    ),
                )
            )
        for r in runners:
            h = r.feed.health()
            if r.finished:
                h = FeedHealth(False, h.messages, h.decoded, h.rejected, h.last_message_age_s)
            out.append(FeedStatus(r.feed.name, "feed", h, r.error))
        return out

    def _snapshot(self) -> dict[str, np.ndarray]:
        """All parties' live rows concatenated, with a ``party`` column (holds the lock)."""
        parts = []
        for name in sorted(self._parties):
            snap = self._parties[name].snapshot()
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

    def picture(self, party: str, now: float | None = None) -> list[TrackView]:
        """``party``'s picture: its own tracks and the others' it needs to know (see module doc)."""
        check_party(party)
        now = self.clock() if now is None else float(now)
        with self._lock:
            snap = self._snapshot()
            own_vols = self._own_shapes(party)
        own = snap["party"] == party
        visible = own | self._near(snap, own, own_vols)
        idx = np.flatnonzero(visible)
        coast = self.config.coast_after_s
        views = []
        for k in idx.tolist():
            age = now - float(snap["t"][k])
            views.append(
                TrackView(
                    party=str(snap["party"][k]),
                    track_id=str(snap["track_id"][k]),
                    t=float(snap["t"][k]),
                    age_s=age,
                    lat=float(snap["lat"][k]),
                    lon=float(snap["lon"][k]),
                    alt_m=_f(snap["alt_m"][k]),
                    gs_mps=_f(snap["gs_mps"][k]),
                    trk_deg=_f(snap["trk_deg"][k]),
                    vs_mps=_f(snap["vs_mps"][k]),
                    status="coasting" if age > coast else "live",
                    flags=tuple(flag_names(int(snap["flags"][k]))),
                    own=bool(own[k]),
                )
            )
        return views

    def _own_shapes(self, party: str) -> list[tuple[str, Any, float, float]]:
        """(kind, coordinates, lat0, lon0) of the party's plan volumes, owned volumes and lines."""
        shapes: list[tuple[str, Any, float, float]] = []
        for src in self._dss.areas:
            if src.owner == party:
                shapes.append(("volume", src.volume, *src.volume.reference))
        for cv in self.config.volumes:
            if cv.owner == party:
                shapes.append(("volume", cv.volume, *cv.volume.reference))
        for cl in self.config.lines_for(party):
            pts = np.asarray(cl.line.points)
            shapes.append(("line", pts, float(pts[0, 0]), float(pts[0, 1])))
        return shapes

    def _near(
        self,
        snap: dict[str, np.ndarray],
        own: np.ndarray,
        shapes: list[tuple[str, Any, float, float]],
    ) -> np.ndarray:
        """Rows not ``own`` within the visibility distance of own tracks or shapes."""
        import shapely
        from scipy.spatial import cKDTree

        n = own.shape[0]
        near = np.zeros(n, dtype=bool)
        others = np.flatnonzero(~own)
        if others.size == 0:
            return near
        vis = self.config.visibility_m
        olat, olon = snap["lat"][others], snap["lon"][others]
        mine = np.flatnonzero(own)
        if mine.size:
            tree = cKDTree(_ecef(snap["lat"][mine], snap["lon"][mine]))
            # chord <= arc, so a chord bound of the arc length keeps every track within it
            d, _ = tree.query(_ecef(olat, olon), k=1, distance_upper_bound=vis)
            near[others[np.isfinite(d)]] = True
        for kind, shape, lat0, lon0 in shapes:
            rest = np.flatnonzero(~near[others])
            if rest.size == 0:
                break
            x, y = _local(olat[rest], olon[rest], lat0, lon0)
            pts = shapely.points(x, y)
            if kind == "line":
                lx, ly = _local(shape[:, 0], shape[:, 1], lat0, lon0)
                geom = shapely.linestrings(lx, ly)
            elif shape.center is not None:
                geom = shapely.buffer(shapely.points(0.0, 0.0), float(shape.radius_m), 64)
            else:
                rx, ry = shape.local_ring()
                geom = shapely.polygons(np.column_stack([rx, ry]))
            hit = shapely.distance(pts, geom) <= vis
            near[others[rest[hit]]] = True
        return near

    def alerts(
        self, party: str, since: float | None = None, active_only: bool = False
    ) -> list[Alert]:
        """Alerts involving ``party``: the current state of each active alert
        (``active_only``), else the history of transitions (oldest first), from ``since``
        (epoch s) on when given."""
        check_party(party)
        with self._lock:
            if active_only:
                items = [a.alert for a in self._active.values() if party in a.alert.parties]
                items.sort(key=lambda a: (a.raised_t, a.id))
            else:
                items = [a for a in self._history if party in a.parties]
        if since is not None:
            items = [a for a in items if a.detected_t >= since]
        return items

    def alert_history(self, party: str, alert_id: str) -> list[Alert]:
        """Every transition of one alert; :class:`NotFound` unless it involves ``party``."""
        with self._lock:
            items = [a for a in self._history if a.id == alert_id]
        if not items or party not in items[0].parties:
            raise NotFound(f"no alert {alert_id}")
        return items

    def subscribe(self, party: str) -> AlertSubscription:
        """A new stream of ``party``'s alert transitions and notices (close it when done)."""
        check_party(party)
        sub = AlertSubscription(self, party)
        with self._lock:
            self._subs.add(sub)
        self._ensure_running()
        return sub

    def _unsubscribe(self, sub: AlertSubscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    def record_delivery(self, party: str, item: dict[str, Any], channel: str) -> None:
        """Note in the record that ``item`` (an alert transition) reached ``party``."""
        if item.get("type") != "alert":
            return
        a = item["alert"]
        self._event(
            self.clock(),
            "delivered",
            "live_alert",
            a["id"],
            {"party": party, "channel": channel, "seq": a["seq"], "status": a["status"]},
        )

    # -- the loop ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background detection loop and the recorder (idempotent).

        The recorder appends transitions and deliveries to the event table in its own thread,
        in batches, so that a slow database never delays detection or delivery. The threads
        start at once when the configuration names parties (their silence is watched from the
        start), else with the first track, feed or subscription: a server used only as a DSS
        spends nothing on the live picture.
        """
        self._autostart = True
        if self.config.parties:
            self._ensure_running()

    def _ensure_running(self) -> None:
        if not self._autostart or self._thread is not None:
            return
        with self._lock:
            if self._thread is not None:
                return
            self._start_threads()

    def _start_threads(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="live-detection", daemon=True)
        self._recorder = threading.Thread(target=self._record, name="live-record", daemon=True)
        self._thread.start()
        self._recorder.start()

    def _record(self) -> None:
        while not self._stop.is_set():
            self._record_wake.wait(timeout=1.0)
            self._record_wake.clear()
            try:
                self.flush_events()
            except Exception:  # keep recording; the failure is logged
                log.exception("recording live events failed")

    def stop(self) -> None:
        """Stop the loop and feeds, flush pending events."""
        self._autostart = False
        self._stop.set()
        self._wake.set()
        self._record_wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._recorder is not None:
            self._recorder.join(timeout=30)
            self._recorder = None
        self.flush_events()

    def _warm_up(self) -> None:
        """Compile (or load from cache) the engine's kernels before the first real cycle."""
        two = TrackStates.from_arrays(
            ["a", "b"],
            ["x", "y"],
            [0.0, 0.0],
            [0.0, 0.0],
            [0.0, 0.01],
            [0.0, 0.0],
            [100.0, 100.0],
            [90.0, 270.0],
            [0.0, 0.0],
        )
        detect_conflicts(two, DetectionParams(now=0.0))
        square = ProtectedVolume(id="w", polygon=[(0.1, 0.1), (0.1, 0.2), (0.2, 0.2)])
        detect_area_proximity(two, [square], now=0.0)

    def _loop(self) -> None:
        try:
            self._warm_up()
        except Exception:  # detection itself will report what is wrong
            log.exception("warm-up of the detection kernels failed")
        cfg = self.config
        min_gap = 1.0 / cfg.max_rate_hz
        max_gap = 1.0 / cfg.rate_hz
        last = time.monotonic() - max_gap
        while not self._stop.is_set():
            self._wake.wait(timeout=max(0.0, last + max_gap - time.monotonic()))
            if self._stop.is_set():
                break
            gap = time.monotonic() - last
            if gap < min_gap:
                time.sleep(min_gap - gap)
            self._wake.clear()
            last = time.monotonic()
            try:
                self.run_detection_cycle()
            except Exception:  # keep the loop alive; the failure is logged
                log.exception("detection cycle failed")

    def run_detection_cycle(self, now: float | None = None) -> CycleReport:
        """Run one detection cycle at ``now`` (default: the clock) and publish its transitions."""
        with self._cycle_lock:
            return self._cycle(self.clock() if now is None else float(now))

    def _cycle(self, now: float) -> CycleReport:
        t0 = time.perf_counter()
        cfg = self.config
        self._refresh_dss(now)
        with self._lock:
            dropped = []
            for name, tracks in self._parties.items():
                for tid, t in tracks.drop_older(now - cfg.drop_after_s):
                    dropped.append((name, tid, t))
            snap = self._snapshot()
            links = dict(self._links)
            silence = self._silence_inputs(now)
            plans = dict(self._dss.plans)
            areas = list(self._dss.areas)
        for party, tid, t in dropped:
            notice = {
                "type": "notice",
                "notice": "track_dropped",
                "party": party,
                "track_id": tid,
                "last_t": _iso(t),
                "time": _iso(now),
            }
            self._notify(party, notice)
            self._event(now, "dropped", "live_track", f"{party}/{tid}", notice)
        states = TrackStates(
            track_id=snap["track_id"],
            party=snap["party"],
            **{k: np.ascontiguousarray(snap[k], dtype=np.float64) for k in NUMERIC_FIELDS},
        )
        n = len(states)
        cands: dict[str, _Candidate] = {}
        trusted = np.flatnonzero(snap["flags"] == 0)
        det = states.select(trusted)
        for k in np.flatnonzero(snap["flags"] != 0).tolist():
            self._implausible(cands, states, k, int(snap["flags"][k]), now)
        if len(det):
            conflicts = detect_conflicts(
                det,
                DetectionParams(
                    minima=cfg.minima,
                    lookahead_s=cfg.lookahead_s,
                    now=now,
                    quality=cfg.quality,
                    thresholds=cfg.thresholds,
                    on_invalid="flag",
                ),
            )
            self._conflicts(cands, det, conflicts, now)
            for k in conflicts.invalid.tolist():
                self._incomplete(cands, det, int(k), now)
            self._areas(cands, det, areas, now)
            self._lines(cands, det, now)
            self._conformance(cands, det, links, plans, now)
        for cand in silence:
            cands[cand.key] = cand
        transitions = self._book(cands, now)
        self._publish(transitions)
        if self._recorder is not None:
            self._record_wake.set()
        else:  # driven by hand (tests, replays): record synchronously
            self.flush_events()
        report = CycleReport(
            now, n, len(det), tuple(transitions), len(self._active), time.perf_counter() - t0
        )
        self.last_cycle = report
        self.cycles += 1
        return report

    # -- detections -------------------------------------------------------------------------

    _INPUT_FIELDS = ("track_id", "party", "t", "lat", "lon", "alt_m", "gs_mps", "trk_deg", "vs_mps")

    def _lists(self, states: TrackStates) -> dict[str, list[Any]]:
        """The columns of ``states`` as Python lists (cached for the last states seen): numpy
        scalar access per alert row would dominate a cycle with thousands of alerts."""
        cached = self._lists_cache
        if cached is not None and cached[0] is states:
            return cached[1]
        lists = {f: getattr(states, f).tolist() for f in self._INPUT_FIELDS}
        for f in ("alt_m", "gs_mps", "trk_deg", "vs_mps"):
            lists[f] = [v if v == v else None for v in lists[f]]  # NaN -> None
        self._lists_cache = (states, lists)
        return lists

    def _track_input(self, states: TrackStates, k: int, now: float) -> AlertInput:
        c = self._lists(states)
        t = c["t"][k]
        return AlertInput(
            kind="track",
            id=str(c["track_id"][k]),
            party=str(c["party"][k]),
            t=t,
            data_age_s=round(now - t, 3),
            lat=c["lat"][k],
            lon=c["lon"][k],
            alt_m=c["alt_m"][k],
            gs_mps=c["gs_mps"][k],
            trk_deg=c["trk_deg"][k],
            vs_mps=c["vs_mps"][k],
        )

    def _implausible(
        self, cands: dict[str, _Candidate], states: TrackStates, k: int, flags: int, now: float
    ) -> None:
        party, tid = str(states.party[k]), str(states.track_id[k])
        names = flag_names(flags)
        key = f"implausible|{party}/{tid}"
        cands[key] = _Candidate(
            key,
            AlertKind.IMPLAUSIBLE,
            LiveLevel.SYSTEM,
            (party,),
            (self._track_input(states, k, now),),
            {"flags": names},
            f"cannot assess track {tid} of {party}: implausible data ({', '.join(names)}); "
            "excluded from conflict detection",
        )

    def _incomplete(
        self, cands: dict[str, _Candidate], states: TrackStates, k: int, now: float
    ) -> None:
        party, tid = str(states.party[k]), str(states.track_id[k])
        missing = [
            f
            for f in ("alt_m", "gs_mps", "trk_deg", "vs_mps")
            if not math.isfinite(float(getattr(states, f)[k]))
        ]
        key = f"incomplete|{party}/{tid}"
        cands[key] = _Candidate(
            key,
            AlertKind.CANNOT_ASSESS,
            LiveLevel.SYSTEM,
            (party,),
            (self._track_input(states, k, now),),
            {"missing": missing},
            f"cannot assess track {tid} of {party}: missing {', '.join(missing) or 'data'}",
        )

    def _level_for_time(self, t: float, inside: bool) -> LiveLevel:
        th = self.config.thresholds
        if inside or t <= th.warning_s:
            return LiveLevel.WARNING
        if t <= th.caution_s:
            return LiveLevel.CAUTION
        return LiveLevel.ADVISORY

    def _conflicts(
        self, cands: dict[str, _Candidate], states: TrackStates, c: Any, now: float
    ) -> None:
        if len(c) == 0:
            return
        levels = classify(c, self.config.thresholds)
        a_idx, b_idx = c.pairs
        # positions of both tracks at the CPA time, extrapolated along their great circles
        rows = np.concatenate([a_idx, b_idx])
        tc = np.concatenate([c.t_cpa, c.t_cpa])
        dt = (now - states.t[rows]) + np.nan_to_num(tc)
        with np.errstate(invalid="ignore"):
            clat, clon = _destination(
                states.lat[rows],
                states.lon[rows],
                np.nan_to_num(states.trk_deg[rows]),
                np.nan_to_num(states.gs_mps[rows]) * dt,
            )
            calt = states.alt_m[rows] + np.nan_to_num(states.vs_mps[rows]) * dt
        m = len(c)
        cols = self._lists(states)
        ids, pty = cols["track_id"], cols["party"]
        ai, bi = a_idx.tolist(), b_idx.tolist()
        t_in, t_out, t_cpa = c.t_in.tolist(), c.t_out.tolist(), c.t_cpa.tolist()
        d_cpa, dalt, los = c.d_cpa_m.tolist(), c.dalt_cpa_m.tolist(), c.los.tolist()
        hor, ver, look = c.horizontal_m.tolist(), c.vertical_m.tolist(), c.lookahead_s.tolist()
        ca, lvls = c.cannot_assess.tolist(), levels.tolist()
        cpa = np.column_stack([clat, clon, calt])
        cpa = np.where(np.isfinite(cpa), cpa, np.nan).tolist()
        level_of = {"WARNING": LiveLevel.WARNING, "CAUTION": LiveLevel.CAUTION}
        old_age = f"a track is older than {self.config.quality.max_age_s} s"
        for r in range(m):
            a, b = ai[r], bi[r]
            if ids[a] == ids[b]:
                continue  # one aircraft seen by two parties (see the module docstring)
            pa, pb = pty[a], pty[b]
            ia = f"{pa}/{ids[a]}"
            ib = f"{pb}/{ids[b]}"
            if ia <= ib:
                first, second, ra, rb = a, b, r, r + m
            else:
                first, second, ra, rb = b, a, r + m, r
                ia, ib = ib, ia
            key = f"conflict|{ia}|{ib}"
            parties = (pa, pb) if pa < pb else (pb, pa)
            inputs = (self._track_input(states, first, now), self._track_input(states, second, now))
            if ca[r]:
                cands[key] = _Candidate(
                    key,
                    AlertKind.CANNOT_ASSESS,
                    LiveLevel.SYSTEM,
                    parties,
                    inputs,
                    {"reason": old_age},
                    f"cannot assess {ia} / {ib}: data too old",
                )
                continue
            pos_a = [None if v != v else v for v in cpa[ra]]
            pos_b = [None if v != v else v for v in cpa[rb]]
            geom = {
                "t_in_s": round(t_in[r], 2),
                "t_out_s": round(t_out[r], 2),
                "t_cpa_s": round(t_cpa[r], 2),
                "cpa_at": _iso(now + t_cpa[r]),
                "d_cpa_m": round(d_cpa[r], 1),
                "dalt_cpa_m": round(dalt[r], 1),
                "los": bool(los[r]),
                "minima": {
                    "horizontal_m": round(hor[r], 1),
                    "vertical_m": round(ver[r], 1),
                    "lookahead_s": look[r],
                },
                "cpa_positions": [pos_a, pos_b],
            }
            what = "separation lost" if geom["los"] else f"conflict in {geom['t_in_s']:.0f} s"
            cands[key] = _Candidate(
                key,
                AlertKind.CONFLICT,
                level_of.get(lvls[r], LiveLevel.ADVISORY),
                parties,
                inputs,
                geom,
                f"{what}: {ia} and {ib}, closest {geom['d_cpa_m']:.0f} m / "
                f"{geom['dalt_cpa_m']:.0f} m in {geom['t_cpa_s']:.0f} s",
            )

    def _areas(
        self,
        cands: dict[str, _Candidate],
        states: TrackStates,
        dss_areas: list[_AreaSource],
        now: float,
    ) -> None:
        sources = [
            _AreaSource(cv.volume, cv.owner, cv.kind, cv.volume.id) for cv in self.config.volumes
        ]
        sources += dss_areas
        if not sources:
            return
        ap = detect_area_proximity(
            states, [s.volume for s in sources], lookahead_s=self.config.lookahead_s, now=now
        )
        for r in range(len(ap)):
            k, v = int(ap.pairs[0, r]), int(ap.pairs[1, r])
            src = sources[v]
            party = str(states.party[k])
            if src.owner == party:
                continue
            tid = str(states.track_id[k])
            inside = bool(ap.inside[r])
            t_entry = float(ap.t_entry[r])
            level = self._level_for_time(t_entry, inside)
            key = f"area|{party}/{tid}|{src.kind}:{src.entity_id}"
            parties = tuple(sorted({party} | ({src.owner} if src.owner else set())))
            vol_input = AlertInput(kind=src.kind, id=src.entity_id, party=src.owner)
            geom = {
                "inside": inside,
                "t_entry_s": round(t_entry, 2),
                "t_exit_s": round(float(ap.t_exit[r]), 2),
                "entry_at": _iso(now + t_entry),
                "volume": self._volume_geometry(src.volume),
            }
            cands[key] = _Candidate(
                key,
                AlertKind.AREA,
                level,
                parties,
                (self._track_input(states, k, now), vol_input),
                geom,
                f"track {tid} of {party} "
                + ("inside" if inside else f"entering in {t_entry:.0f} s")
                + f" {src.kind} {src.entity_id}"
                + (f" of {src.owner}" if src.owner else ""),
            )

    @staticmethod
    def _volume_geometry(vol: ProtectedVolume) -> dict[str, Any]:
        out: dict[str, Any] = {
            "lower_m": _f(vol.lower_m),
            "upper_m": _f(vol.upper_m),
            "start": _iso(vol.start),
            "end": _iso(vol.end),
        }
        if vol.center is not None:
            out["center"] = [float(vol.center[0]), float(vol.center[1])]
            out["radius_m"] = float(vol.radius_m or 0.0)
        else:
            out["polygon"] = np.asarray(vol.polygon).round(6).tolist()
        return out

    def _lines(self, cands: dict[str, _Candidate], states: TrackStates, now: float) -> None:
        lines = self.config.lines
        if not lines:
            return
        lc = detect_line_crossings(
            states, [cl.line for cl in lines], lookahead_s=self.config.lookahead_s, now=now
        )
        for r in range(len(lc)):
            k, li = int(lc.pairs[0, r]), int(lc.pairs[1, r])
            cl = lines[li]
            party = str(states.party[k])
            if cl.parties is not None and party not in cl.parties:
                continue
            tid = str(states.track_id[k])
            t_cross = float(lc.t_cross[r])
            key = f"line|{party}/{tid}|{cl.line.id}"
            parties = tuple(sorted({party} | set(cl.parties or ())))
            geom = {
                "t_cross_s": round(t_cross, 2),
                "cross_at": _iso(now + t_cross),
                "segment": int(lc.segment[r]),
                "points": np.asarray(cl.line.points).round(6).tolist(),
            }
            cands[key] = _Candidate(
                key,
                AlertKind.LINE,
                self._level_for_time(t_cross, False),
                parties,
                (
                    self._track_input(states, k, now),
                    AlertInput(kind=cl.kind, id=cl.line.id, party=None),
                ),
                geom,
                f"track {tid} of {party} crossing {cl.kind} {cl.line.id} in {t_cross:.0f} s",
            )

    def _conformance(
        self,
        cands: dict[str, _Candidate],
        states: TrackStates,
        links: dict[tuple[str, str], str],
        plans: dict[str, tuple[str, list[ProtectedVolume]]],
        now: float,
    ) -> None:
        if not links:
            return
        cols = self._lists(states)
        pairs = list(zip(cols["party"], cols["track_id"], strict=True))
        linked = [k for k, pt in enumerate(pairs) if pt in links]
        if not linked:
            return
        # track ids are unique per party only: key the conformance check by party and id
        sub = states.select(np.asarray(linked))
        keys = np.array([f"{pairs[k][0]}\x1f{pairs[k][1]}" for k in linked], dtype=object)
        sub = TrackStates(**{**{f: getattr(sub, f) for f in _STATE_FIELDS}, "track_id": keys})
        volumes: dict[str, list[ProtectedVolume]] = {}
        for key, k in zip(keys.tolist(), linked, strict=True):
            owner, vols = plans.get(links[pairs[k]], (None, []))
            # only the party's own plan counts; a plan gone from the DSS gives no volume, and
            # a volume that is never active makes conformance() report the track as outside
            volumes[key] = vols if (owner == pairs[k][0] and vols) else [_NOWHERE]
        res = conformance(sub, volumes, tolerance_m=self.config.conformance_tolerance_m)
        for j, k in enumerate(linked):
            if res.conforming[j]:
                continue
            party, tid = pairs[k]
            pid = links[pairs[k]]
            no_volume = bool(res.volume[j] < 0)
            geom = {
                "plan_id": pid,
                "horizontal_excess_m": None if no_volume else _f(res.horizontal_excess_m[j]),
                "vertical_excess_m": None if no_volume else _f(res.vertical_excess_m[j]),
                "no_active_plan_volume": no_volume,
            }
            key = f"conformance|{party}/{tid}|{pid}"
            cands[key] = _Candidate(
                key,
                AlertKind.CONFORMANCE,
                LiveLevel.CAUTION,
                (party,),
                (self._track_input(states, k, now), AlertInput(kind="plan", id=pid, party=party)),
                geom,
                f"track {tid} of {party} outside its plan {pid}",
            )

    def _silence_inputs(self, now: float) -> list[_Candidate]:
        """SYSTEM candidates for silent parties and feeds (holds the lock)."""
        limit = self.config.silence_after_s
        everyone = tuple(sorted(self._known))
        out = []
        for party in everyone:
            push = self._push.get(party)
            last = push.last if push is not None else None
            since = self._started_t if last is None else last
            if now - since > limit:
                key = f"party_silent|{party}"
                out.append(
                    _Candidate(
                        key,
                        AlertKind.PARTY_SILENT,
                        LiveLevel.SYSTEM,
                        everyone,
                        (
                            AlertInput(
                                kind="party",
                                id=party,
                                party=party,
                                t=last,
                                data_age_s=None if last is None else round(now - last, 3),
                            ),
                        ),
                        {"silent_s": round(now - since, 1), "limit_s": limit},
                        f"no data from {party} for {now - since:.0f} s: its traffic cannot be "
                        "assessed",
                    )
                )
        for r in self._feeds:
            h = r.feed.health()
            age = h.last_message_age_s
            silent = r.finished or not h.connected or (age is not None and age > limit)
            if age is None and now - self._started_t > limit:
                silent = True
            if silent:
                key = f"feed_silent|{r.party}|{r.feed.name}"
                why = r.error or (
                    "ended"
                    if r.finished
                    else "disconnected"
                    if not h.connected
                    else f"silent for {age:.0f} s"
                    if age is not None
                    else "no data"
                )
                out.append(
                    _Candidate(
                        key,
                        AlertKind.FEED_SILENT,
                        LiveLevel.SYSTEM,
                        everyone,
                        (AlertInput(kind="feed", id=r.feed.name, party=r.party),),
                        {"reason": why, "last_message_age_s": age},
                        f"feed {r.feed.name} of {r.party}: {why}",
                    )
                )
        return out

    # -- DSS volumes ------------------------------------------------------------------------

    def _refresh_dss(self, now: float) -> None:
        if self.store is None or now - self._dss.loaded < self.config.dss_refresh_s:
            return
        start = datetime.fromtimestamp(now, UTC)
        end = datetime.fromtimestamp(now + self.config.lookahead_s, UTC)
        try:
            with self.store.read() as tx:
                oirs = tx.active_oirs(start, end)
                constraints = tx.active_constraints(start, end)
        except SharedskyError as exc:
            log.warning("cannot read plans and hazards: %s", exc)
            return
        cache = self._dss
        outlines: dict[tuple[str, str, int], list[list[tuple[float, float]]]] = {}
        areas: list[_AreaSource] = []
        plans: dict[str, tuple[str, list[ProtectedVolume]]] = {}

        def rings(kind: str, rec: Any) -> list[list[tuple[float, float]]]:
            k = (kind, rec.id, rec.version)
            got = cache.outlines.get(k)
            if got is None:
                got = cells_outline(rec.cells)
            outlines[k] = got
            return got

        for rec in oirs:
            if rec.state not in _ACTIVE_OIR_STATES or not rec.cells:
                continue
            vols = [
                ProtectedVolume(
                    id=f"{rec.id}#{j}",
                    polygon=ring,
                    lower_m=rec.altitude_lower_m,
                    upper_m=rec.altitude_upper_m,
                    start=rec.time_start.timestamp(),
                    end=rec.time_end.timestamp(),
                )
                for j, ring in enumerate(rings("plan", rec))
                if len(ring) >= 3
            ]
            plans[rec.id] = (rec.manager, vols)
            areas.extend(_AreaSource(v, rec.manager, "plan", rec.id) for v in vols)
        for rec in constraints:
            if not rec.cells:
                continue
            for j, ring in enumerate(rings("hazard", rec)):
                if len(ring) < 3:
                    continue
                v = ProtectedVolume(
                    id=f"{rec.id}#{j}",
                    polygon=ring,
                    lower_m=rec.altitude_lower_m,
                    upper_m=rec.altitude_upper_m,
                    start=rec.time_start.timestamp(),
                    end=rec.time_end.timestamp(),
                )
                areas.append(_AreaSource(v, rec.manager, "hazard", rec.id))
        with self._lock:
            self._dss = _DssCache(now, areas, plans, outlines)

    # -- alert book -------------------------------------------------------------------------

    @staticmethod
    def _material(old: Alert, cand: _Candidate, now: float) -> bool:
        if old.level != cand.level:
            return True
        g0, g1 = old.geometry, cand.geometry
        for flag in ("los", "inside", "flags", "missing", "no_active_plan_volume", "reason"):
            if g0.get(flag) != g1.get(flag):
                return True
        d0, d1 = g0.get("d_cpa_m"), g1.get("d_cpa_m")
        if d0 is not None and d1 is not None and abs(d1 - d0) > max(200.0, 0.1 * abs(d0)):
            return True
        for rel in ("t_cpa_s", "t_in_s", "t_entry_s", "t_cross_s"):
            a0, a1 = g0.get(rel), g1.get(rel)
            # compare absolute times: a steady approach keeps them constant
            if a0 is not None and a1 is not None and abs((old.detected_t + a0) - (now + a1)) > 5.0:
                return True
        return False

    def _book(self, cands: dict[str, _Candidate], now: float) -> list[Alert]:
        out: list[Alert] = []
        with self._lock:
            for key, cand in cands.items():
                cur = self._active.get(key)
                if cur is None:
                    alert = Alert(
                        id=str(uuid.uuid4()),
                        key=key,
                        kind=cand.kind,
                        level=cand.level,
                        status=AlertStatus.RAISED,
                        seq=1,
                        parties=cand.parties,
                        inputs=cand.inputs,
                        geometry=cand.geometry,
                        detected_t=now,
                        raised_t=now,
                        message=cand.message,
                    )
                    self._active[key] = _Active(alert, now)
                    out.append(alert)
                    continue
                cur.last_seen = now
                if self._material(cur.alert, cand, now) or set(cand.parties) != set(
                    cur.alert.parties
                ):
                    alert = Alert(
                        id=cur.alert.id,
                        key=key,
                        kind=cand.kind,
                        level=cand.level,
                        status=AlertStatus.UPDATED,
                        seq=cur.alert.seq + 1,
                        parties=tuple(sorted(set(cand.parties) | set(cur.alert.parties))),
                        inputs=cand.inputs,
                        geometry=cand.geometry,
                        detected_t=now,
                        raised_t=cur.alert.raised_t,
                        message=cand.message,
                    )
                    cur.alert = alert
                    out.append(alert)
            for key in [k for k in self._active if k not in cands]:
                cur = self._active[key]
                if now - cur.last_seen < self.config.clear_after_s:
                    continue
                old = cur.alert
                alert = Alert(
                    id=old.id,
                    key=key,
                    kind=old.kind,
                    level=old.level,
                    status=AlertStatus.CLEARED,
                    seq=old.seq + 1,
                    parties=old.parties,
                    inputs=old.inputs,
                    geometry=old.geometry,
                    detected_t=now,
                    raised_t=old.raised_t,
                    message=f"cleared: {old.message}",
                )
                del self._active[key]
                out.append(alert)
            self._history.extend(out)
        return out

    def _publish(self, transitions: Iterable[Alert]) -> None:
        with self._lock:
            subs = list(self._subs)
        for alert in transitions:
            item = {"type": "alert", "alert": alert.to_dict()}
            for sub in subs:
                if sub.party in alert.parties:
                    sub.push(item)
            self._event(alert.detected_t, alert.status.value, "live_alert", alert.id, item["alert"])

    def _notify(self, party: str, item: dict[str, Any]) -> None:
        with self._lock:
            subs = [s for s in self._subs if s.party == party]
        for s in subs:
            s.push(item)

    # -- record -----------------------------------------------------------------------------

    def _event(
        self, t: float, operation: str, entity_type: str, entity_id: str, payload: dict[str, Any]
    ) -> None:
        if self.store is None:
            return
        with self._events_lock:
            self._pending_events.append(
                (t, SYSTEM_ACTOR, operation, entity_type, entity_id, payload)
            )

    def flush_events(self) -> int:
        """Append the pending transitions and deliveries to the event table; returns how many."""
        if self.store is None:
            return 0
        with self._events_lock:
            pending, self._pending_events = self._pending_events, []
        if not pending:
            return 0
        events = [
            Event(EntityType(et), eid, Operation(op), actor, p, datetime.fromtimestamp(t, UTC))
            for t, actor, op, et, eid, p in pending
        ]
        try:
            with self.store.write() as tx:
                tx.append_events(events)
        except SharedskyError as exc:
            log.error("cannot append %d live events: %s (kept for retry)", len(pending), exc)
            with self._events_lock:
                self._pending_events[:0] = pending
            return 0
        return len(pending)


# A volume nowhere (a point-sized circle at the pole, never active): conformance() needs a
# non-empty volume list to report a linked track without an active plan as non-conforming.
_NOWHERE = ProtectedVolume(id="none", center=(90.0, 0.0), radius_m=1e-3, start=0.0, end=0.0)
