"""Plans and hazard volumes of the DSS, as volumes the live service checks tracks against.

The DSS keeps only S2 cells: a DSS volume is the union of its covering cells, outer rings only
(:func:`sharedsky.geo.outline.cells_outline`), which contains the filed outline (conservative,
about one 1-km cell larger), with the entity's altitude band and time window. Plans
(operational intents) count while Accepted, Activated, Nonconforming or Contingent; hazard
volumes (constraints) always. :class:`DssAreas` re-reads those whose time window overlaps the
look-ahead at most every ``refresh_s`` and keeps each entity's outline by (id, version), so an
unchanged entity is never outlined twice. A store that cannot be read leaves the last picture
in place (logged).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sharedsky.errors import SharedskyError
from sharedsky.geo.outline import cells_outline
from sharedsky.services.live.candidates import AreaSource
from sharedsky.store import ConstraintRecord, OirRecord, Store
from sharedsky.tactical import ProtectedVolume

__all__ = ["ACTIVE_PLAN_STATES", "DssAreas", "DssPicture"]

log = logging.getLogger("sharedsky.live")

ACTIVE_PLAN_STATES = frozenset({"Accepted", "Activated", "Nonconforming", "Contingent"})

Ring = list[tuple[float, float]]


@dataclass(frozen=True)
class DssPicture:
    """What the DSS held at ``loaded``: every volume as an area source, and each active plan's
    manager and volumes by plan id (for conformance)."""

    loaded: float = -math.inf
    areas: tuple[AreaSource, ...] = ()
    plans: dict[str, tuple[str, list[ProtectedVolume]]] = field(default_factory=dict)


class DssAreas:
    """The DSS's plans and hazards as volumes (see the module docstring); ``store`` None means
    a live service without a DSS (tests, offline replays): no volumes, no plans."""

    def __init__(self, store: Store | None, refresh_s: float, lookahead_s: float) -> None:
        self.store = store
        self.refresh_s = refresh_s
        self.lookahead_s = lookahead_s
        self._lock = threading.Lock()
        self._picture = DssPicture()
        self._outlines: dict[tuple[str, str, int], list[Ring]] = {}

    @property
    def picture(self) -> DssPicture:
        return self._picture

    def invalidate(self) -> None:
        """Read the DSS again at the next :meth:`refresh` (e.g. a track was linked to a plan)."""
        with self._lock:
            self._picture = DssPicture(-math.inf, self._picture.areas, self._picture.plans)

    def plan_manager(self, plan_id: str) -> str | None:
        """The manager of operational intent ``plan_id``, None if there is none."""
        if self.store is None:
            return None
        with self.store.read() as tx:
            rec = tx.get_oir(plan_id)
        return None if rec is None else rec.manager

    def refresh(self, now: float) -> DssPicture:
        """The picture, read again if it is older than ``refresh_s``."""
        if self.store is None or now - self._picture.loaded < self.refresh_s:
            return self._picture
        start = datetime.fromtimestamp(now, UTC)
        end = datetime.fromtimestamp(now + self.lookahead_s, UTC)
        try:
            with self.store.read() as tx:
                oirs = tx.active_oirs(start, end)
                constraints = tx.active_constraints(start, end)
        except SharedskyError as exc:
            log.warning("cannot read plans and hazards: %s", exc)
            return self._picture
        outlines: dict[tuple[str, str, int], list[Ring]] = {}
        areas: list[AreaSource] = []
        plans: dict[str, tuple[str, list[ProtectedVolume]]] = {}
        for rec in oirs:
            if rec.state not in ACTIVE_PLAN_STATES or not rec.cells:
                continue
            vols = self._volumes("plan", rec, outlines)
            plans[rec.id] = (rec.manager, vols)
            areas.extend(AreaSource(v, rec.manager, "plan", rec.id) for v in vols)
        for crec in constraints:
            if crec.cells:
                vols = self._volumes("hazard", crec, outlines)
                areas.extend(AreaSource(v, crec.manager, "hazard", crec.id) for v in vols)
        with self._lock:
            self._outlines = outlines
            self._picture = DssPicture(now, tuple(areas), plans)
        return self._picture

    def _volumes(
        self,
        kind: str,
        rec: OirRecord | ConstraintRecord,
        outlines: dict[tuple[str, str, int], list[Ring]],
    ) -> list[ProtectedVolume]:
        key = (kind, rec.id, rec.version)
        rings = self._outlines.get(key)
        if rings is None:
            rings = cells_outline(rec.cells)
        outlines[key] = rings
        return [
            ProtectedVolume(
                id=f"{rec.id}#{j}",
                polygon=ring,
                lower_m=rec.altitude_lower_m,
                upper_m=rec.altitude_upper_m,
                start=rec.time_start.timestamp(),
                end=rec.time_end.timestamp(),
            )
            for j, ring in enumerate(rings)
            if len(ring) >= 3
        ]
