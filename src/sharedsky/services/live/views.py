"""What the live service hands out: ingest results, picture rows, input health, cycle reports."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sharedsky.feeds.base import FeedHealth
from sharedsky.model.alerts import Alert
from sharedsky.model.tracks import Reject
from sharedsky.units import epoch_to_iso

__all__ = ["CycleReport", "FeedStatus", "IngestResult", "TrackView", "finite_or_none"]


def finite_or_none(x: Any) -> float | None:
    """``float(x)``, or None where it is NaN or infinite (JSON has neither)."""
    v = float(x)
    return v if math.isfinite(v) else None


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
            "t": epoch_to_iso(self.t),
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
