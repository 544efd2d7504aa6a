"""Live alerts: what every party involved receives, identically.

An :class:`Alert` is one transition of one alert: its ``id`` stays the same from ``raised``
through any ``updated`` to ``cleared`` (``seq`` counts the transitions, 1 = raised). The same
object — same id, same content — is delivered to every party in ``parties``.

Levels (:class:`LiveLevel`):

* ``WARNING`` — separation lost, a track inside a protected volume, or predicted within the
  agreed warning lead time;
* ``CAUTION`` — predicted within the agreed caution lead time (or a track outside its own plan);
* ``ADVISORY`` — predicted later within the look-ahead (plan-level: there is time to re-plan);
* ``SYSTEM`` — data or link degraded: a party or feed silent, a track with implausible data
  (flagged, not trusted, excluded from the other alerts), or a pair that cannot be assessed
  because a track is too old.

Every alert is advisory: sharedsky gives advice and keeps records, it never issues clearances or
commands; ``inputs`` names the party whose data produced each part of it.

Units: times are epoch seconds UTC (``*_t``) or seconds relative to ``detected_t`` (``*_s``),
distances metres, positions WGS-84 degrees and metres.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sharedsky.units import epoch_to_iso

__all__ = ["ADVISORY_LABEL", "Alert", "AlertInput", "AlertKind", "AlertStatus", "LiveLevel"]

ADVISORY_LABEL = "ADVISORY ONLY - not a clearance or instruction"


class LiveLevel(StrEnum):
    """Level of a live alert (see the module docstring)."""

    ADVISORY = "ADVISORY"
    CAUTION = "CAUTION"
    WARNING = "WARNING"
    SYSTEM = "SYSTEM"


class AlertStatus(StrEnum):
    RAISED = "raised"
    UPDATED = "updated"
    CLEARED = "cleared"


class AlertKind(StrEnum):
    """What an alert is about."""

    CONFLICT = "conflict"  # two tracks of different parties
    AREA = "area"  # a track and a protected / plan / hazard volume
    LINE = "line"  # a track and a border or agreed line
    CONFORMANCE = "conformance"  # a track outside its own party's plan
    CANNOT_ASSESS = "cannot_assess"  # a pair with a track too old to assess
    IMPLAUSIBLE = "implausible"  # a track whose data failed plausibility checks
    PARTY_SILENT = "party_silent"  # no data from a party
    FEED_SILENT = "feed_silent"  # a feed silent, disconnected or failed


@dataclass(frozen=True)
class AlertInput:
    """One input of an alert: a track, a volume, a line, a feed or a party.

    ``party`` is the party whose data it is (for a volume: its owner, ``None`` for a shared
    hazard or line); ``t`` the time of the data and ``data_age_s`` its age at detection; for a
    track, its reported state (``lat``, ``lon``, ``alt_m``, ``gs_mps``, ``trk_deg``, ``vs_mps``).
    """

    kind: str
    id: str
    party: str | None
    t: float | None = None
    data_age_s: float | None = None
    lat: float | None = None
    lon: float | None = None
    alt_m: float | None = None
    gs_mps: float | None = None
    trk_deg: float | None = None
    vs_mps: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "id": self.id, "party": self.party}
        if self.t is not None:
            out["t"] = epoch_to_iso(self.t)
            out["data_age_s"] = self.data_age_s
        if self.lat is not None:
            out.update(
                lat=self.lat,
                lon=self.lon,
                alt_m=self.alt_m,
                gs_mps=self.gs_mps,
                trk_deg=self.trk_deg,
                vs_mps=self.vs_mps,
            )
        return out


@dataclass(frozen=True)
class Alert:
    """One transition of a live alert (see the module docstring).

    ``key`` identifies what the alert is about (kind and inputs) and is what keeps ``id``
    stable across cycles; ``geometry`` holds the numbers of its kind (CPA, entry times,
    positions), ``parties`` every party involved (sorted), ``detected_t`` the detection time of
    this transition and ``raised_t`` of the first.
    """

    id: str
    key: str
    kind: AlertKind
    level: LiveLevel
    status: AlertStatus
    seq: int
    parties: tuple[str, ...]
    inputs: tuple[AlertInput, ...]
    geometry: dict[str, Any] = field(default_factory=dict)
    detected_t: float = 0.0
    raised_t: float = 0.0
    message: str = ""

    def involves(self, party: str) -> bool:
        return party in self.parties

    def to_dict(self) -> dict[str, Any]:
        """The wire form (JSON-ready); identical for every party."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "level": self.level.value,
            "status": self.status.value,
            "seq": self.seq,
            "parties": list(self.parties),
            "inputs": [i.to_dict() for i in self.inputs],
            "geometry": self.geometry,
            "detected_at": epoch_to_iso(self.detected_t),
            "raised_at": epoch_to_iso(self.raised_t),
            "message": self.message,
            "advisory": ADVISORY_LABEL,
        }
