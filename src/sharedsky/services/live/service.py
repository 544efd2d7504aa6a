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
  and hazard volume (constraint) in the DSS whose time window overlaps the look-ahead, as
  outlines of their S2 cells (:mod:`~sharedsky.services.live.dss_areas`). A party's own
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

Alert transitions (raised, updated, cleared: :mod:`~sharedsky.services.live.book`) are
published through the delivery hub (:mod:`sharedsky.services.hub`) to the subscriptions of every
involved party in the same step (the same dictionary, so the same content), and appended to the
event table (``entity_type`` ``live_alert``, operation ``raised``/``updated``/``cleared``;
deliveries as ``delivered`` with the party and channel: :mod:`~sharedsky.services.live.recorder`).

Need to know (:meth:`LiveService.picture`, :mod:`~sharedsky.services.live.visibility`): a party
sees all its own tracks, and another party's track only within ``visibility_m`` of one of its
own tracks, of one of its active plans or owned volumes, or of a line that concerns it. Alerts:
exactly those that involve it. Feeds and party configuration: its own only.

The parts: :mod:`~sharedsky.services.live.inputs` (tracks, push counters, feeds, silence),
:mod:`~sharedsky.services.live.candidates` (what a cycle detects, as pure functions),
:mod:`~sharedsky.services.live.book`, :mod:`~sharedsky.services.live.dss_areas`,
:mod:`~sharedsky.services.live.visibility`, :mod:`~sharedsky.services.live.recorder`;
:class:`LiveService` runs the cycles and holds them together.

Deployment: the picture lives in the memory of the process that receives the tracks. Several
``serve`` replicas may share the DSS database, but each runs its own live picture; tracks of all
parties that must be deconflicted together must be sent to the same process.
"""


from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from sharedsky.errors import InvalidInput, NotFound, reject_nul
from sharedsky.feeds.base import Feed
from sharedsky.model.alerts import Alert
from sharedsky.model.events import EntityType, Operation
from sharedsky.model.tracks import NUMERIC_FIELDS, TrackBatch
from sharedsky.services.hub import DeliveryHub, Subscription
from sharedsky.services.live.book import AlertBook
from sharedsky.services.live.candidates import (
    AreaSource,
    Candidate,
    TrackColumns,
    area_candidates,
    conflict_candidates,
    conformance_candidates,
    implausible_candidate,
    incomplete_candidate,
    line_candidates,
)
from sharedsky.services.live.config import LiveConfig
from sharedsky.services.live.dss_areas import DssAreas
from sharedsky.services.live.inputs import PartyInputs
from sharedsky.services.live.recorder import EventRecorder
from sharedsky.services.live.tracks import Plausibility, flag_names
from sharedsky.services.live.views import (
    CycleReport,
    FeedStatus,
    IngestResult,
    TrackView,
    finite_or_none,
)
from sharedsky.services.live.visibility import own_shapes, visible_rows
from sharedsky.store import Store
from sharedsky.tactical import (
    DetectionParams,
    ProtectedVolume,
    TrackStates,
    detect_area_proximity,
    detect_conflicts,
)
from sharedsky.units import epoch_to_iso

__all__ = [
    "AlertSubscription",
    "CycleReport",
    "FeedStatus",
    "IngestResult",
    "LiveService",
    "TrackView",
]

log = logging.getLogger("sharedsky.live")

AlertSubscription = Subscription
"""A party's stream of alert transitions and notices (a hub :class:`Subscription`)."""

_MAX_PARTY_LEN = 255


def check_party(party: Any) -> str:
    if not isinstance(party, str) or not party or len(party) > _MAX_PARTY_LEN:
        raise InvalidInput("must be a non-empty string of at most 255 characters", "party")
    return reject_nul(party, "party")


class LiveService:
    """The live picture and alerting for all parties (see the module docstring).

    ``store``: the DSS store (plans, hazards and the event table), or ``None`` (no DSS volumes,
    no record: tests and offline replays). ``clock`` returns the current time as epoch seconds
    (``time.time`` by default; tests pass a fake clock). ``hub``: where alerts are delivered
    (a new hub by default).
    """

    def __init__(
        self,
        store: Store | None,
        config: LiveConfig | None = None,
        clock: Callable[[], float] = time.time,
        hub: DeliveryHub | None = None,
    ) -> None:
        self.store = store
        self.config = cfg = config or LiveConfig()
        self.clock = clock
        self.hub = hub or DeliveryHub()
        rules = Plausibility(
            cfg.max_speed_mps, cfg.jump_tolerance_m, cfg.future_tolerance_s, cfg.carry_forward_s
        )
        self.inputs = PartyInputs(rules, cfg.parties, clock())
        self.book = AlertBook(cfg.clear_after_s, cfg.history_max)
        self.dss = DssAreas(store, cfg.dss_refresh_s, cfg.lookahead_s)
        self.recorder = EventRecorder(store)
        self._lock = threading.Lock()
        self._links: dict[tuple[str, str], str] = {
            (p, tid): plan for p, pc in cfg.parties.items() for tid, plan in pc.links.items()
        }
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._autostart = False
        self._cycle_lock = threading.Lock()
        self.last_cycle: CycleReport | None = None
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
        applied, stale, flagged = self.inputs.ingest(party, batch, now)
        if applied:
            self._ensure_running()
            self._wake.set()
        return IngestResult(len(batch), batch.rejects, flagged, stale)

    def attach_feed(self, party: str, feed: Feed) -> None:
        """Run ``feed`` in a background thread, ingesting its batches as ``party``'s tracks."""
        check_party(party)
        if not isinstance(feed, Feed):
            raise InvalidInput("does not implement the Feed protocol", "feed")
        thread = self.inputs.attach_feed(party, feed, self.ingest, self._stop)
        self._ensure_running()
        thread.start()

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
        if self.dss.plan_manager(plan_id) != party:
            raise NotFound(f"no plan {plan_id} of party {party}")
        with self._lock:
            self._links[(party, track_id)] = plan_id
        self.dss.invalidate()  # refresh plan outlines at the next cycle

    def unlink_track(self, party: str, track_id: str) -> None:
        with self._lock:
            if self._links.pop((party, track_id), None) is None:
                raise NotFound(f"track {track_id} of {party} is not linked")

    def links(self, party: str) -> dict[str, str]:
        with self._lock:
            return {tid: plan for (p, tid), plan in self._links.items() if p == party}

    # -- reading ----------------------------------------------------------------------------

    def parties(self) -> list[str]:
        return self.inputs.parties()

    def feeds(self, party: str) -> list[FeedStatus]:
        """The inputs of ``party`` (its push channel and attached feeds) with their health."""
        return self.inputs.feeds(party, self.clock())

    def picture(self, party: str, now: float | None = None) -> list[TrackView]:
        """``party``'s picture: its own tracks and the others' it needs to know (see module doc)."""
        check_party(party)
        now = self.clock() if now is None else float(now)
        snap = self.inputs.snapshot()
        cfg = self.config
        shapes = own_shapes(party, self.dss.picture.areas, cfg.volumes, cfg.lines_for(party))
        own = snap["party"] == party
        visible = visible_rows(snap["lat"], snap["lon"], own, shapes, cfg.visibility_m)
        views = []
        for k in np.flatnonzero(visible).tolist():
            age = now - float(snap["t"][k])
            views.append(
                TrackView(
                    party=str(snap["party"][k]),
                    track_id=str(snap["track_id"][k]),
                    t=float(snap["t"][k]),
                    age_s=age,
                    lat=float(snap["lat"][k]),
                    lon=float(snap["lon"][k]),
                    alt_m=finite_or_none(snap["alt_m"][k]),
                    gs_mps=finite_or_none(snap["gs_mps"][k]),
                    trk_deg=finite_or_none(snap["trk_deg"][k]),
                    vs_mps=finite_or_none(snap["vs_mps"][k]),
                    status="coasting" if age > cfg.coast_after_s else "live",
                    flags=tuple(flag_names(int(snap["flags"][k]))),
                    own=bool(own[k]),
                )
            )
        return views

    def alerts(
        self, party: str, since: float | None = None, active_only: bool = False
    ) -> list[Alert]:
        """Alerts involving ``party``: the current state of each active alert
        (``active_only``), else the history of transitions (oldest first), from ``since``
        (epoch s) on when given."""
        check_party(party)
        items = self.book.active(party) if active_only else self.book.history(party)
        if since is not None:
            items = [a for a in items if a.detected_t >= since]
        return items

    def alert_history(self, party: str, alert_id: str) -> list[Alert]:
        """Every transition of one alert; :class:`NotFound` unless it involves ``party``."""
        return self.book.transitions(party, alert_id)

    def subscribe(self, party: str) -> Subscription:
        """A new stream of ``party``'s alert transitions and notices (close it when done)."""
        check_party(party)
        sub = self.hub.subscribe(party)
        self._ensure_running()
        return sub

    def record_delivery(self, party: str, item: dict[str, Any], channel: str) -> None:
        """Note in the record that ``item`` (an alert transition) reached ``party``."""
        if item.get("type") != "alert":
            return
        a = item["alert"]
        payload = {"party": party, "channel": channel, "seq": a["seq"], "status": a["status"]}
        now = self.clock()
        self.recorder.add(now, Operation.DELIVERED, EntityType.LIVE_ALERT, a["id"], payload)

    def flush_events(self) -> int:
        """Append the pending transitions and deliveries to the event table; returns how many."""
        return self.recorder.flush()

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
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="live-detection", daemon=True)
            self._thread.start()
            self.recorder.start()

    def stop(self) -> None:
        """Stop the loop and feeds, flush pending events."""
        self._autostart = False
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.recorder.stop()

    def _loop(self) -> None:
        try:
            _warm_up()
        except Exception:  # detection itself will report what is wrong
            log.exception("warm-up of the detection kernels failed")
        min_gap = 1.0 / self.config.max_rate_hz
        max_gap = 1.0 / self.config.rate_hz
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
        dss = self.dss.refresh(now)
        for party, tid, t in self.inputs.drop_older(now - cfg.drop_after_s):
            notice = {
                "type": "notice",
                "notice": "track_dropped",
                "party": party,
                "track_id": tid,
                "last_t": epoch_to_iso(t),
                "time": epoch_to_iso(now),
            }
            self.hub.publish(notice, (party,))
            track = f"{party}/{tid}"
            self.recorder.add(now, Operation.DROPPED, EntityType.LIVE_TRACK, track, notice)
        snap = self.inputs.snapshot()
        with self._lock:
            links = dict(self._links)
        states = TrackStates(
            track_id=snap["track_id"],
            party=snap["party"],
            **{k: np.ascontiguousarray(snap[k], dtype=np.float64) for k in NUMERIC_FIELDS},
        )
        cands: list[Candidate] = []
        all_cols = TrackColumns(states)
        flags = snap["flags"]
        for k in np.flatnonzero(flags != 0).tolist():
            cands.append(implausible_candidate(all_cols, k, int(flags[k]), now))
        det = states.select(np.flatnonzero(flags == 0))
        if len(det):
            cands += self._detect(det, dss.areas, links, dss.plans, now)
        cands += self.inputs.silence_candidates(now, cfg.silence_after_s)
        transitions = self.book.update({c.key: c for c in cands}, now)
        self._publish(transitions)
        self.recorder.wake()
        report = CycleReport(
            now, len(states), len(det), tuple(transitions), len(self.book),
            time.perf_counter() - t0,
        )  # fmt: skip
        self.last_cycle = report
        self.cycles += 1
        return report

    def _detect(
        self,
        det: TrackStates,
        dss_areas: Iterable[AreaSource],
        links: dict[tuple[str, str], str],
        plans: dict[str, tuple[str, list[ProtectedVolume]]],
        now: float,
    ) -> list[Candidate]:
        """Every candidate among the trusted tracks ``det``: conflicts, tracks that cannot be
        assessed, areas, lines, conformance."""
        cfg = self.config
        params = DetectionParams(
            minima=cfg.minima,
            lookahead_s=cfg.lookahead_s,
            now=now,
            quality=cfg.quality,
            thresholds=cfg.thresholds,
            on_invalid="flag",
        )
        conflicts = detect_conflicts(det, params)
        cols = TrackColumns(det)
        th = cfg.thresholds
        sources = [AreaSource(cv.volume, cv.owner, cv.kind, cv.volume.id) for cv in cfg.volumes]
        sources += dss_areas
        return [
            *conflict_candidates(cols, conflicts, th, cfg.quality.max_age_s, now),
            *(incomplete_candidate(cols, int(k), now) for k in conflicts.invalid.tolist()),
            *area_candidates(cols, sources, cfg.lookahead_s, th, now),
            *line_candidates(cols, cfg.lines, cfg.lookahead_s, th, now),
            *conformance_candidates(cols, links, plans, cfg.conformance_tolerance_m, now),
        ]

    def _publish(self, transitions: Iterable[Alert]) -> None:
        for alert in transitions:
            item = {"type": "alert", "alert": alert.to_dict()}
            self.hub.publish(item, alert.parties)
            self.recorder.add(
                alert.detected_t,
                Operation(alert.status.value),
                EntityType.LIVE_ALERT,
                alert.id,
                item["alert"],
            )


def _warm_up() -> None:
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
