"""Units and time. Inside sharedsky everything is SI (metres, seconds, m/s) and WGS-84 degrees;
feet, knots, ft/min and flight levels appear only at the edges (feeds, API schemas, display).
All times are timezone-aware UTC."""

from __future__ import annotations

import math
from datetime import UTC, datetime

__all__ = [
    "EARTH_RADIUS_M",
    "FPM_TO_MPS",
    "FT_TO_M",
    "KT_TO_MPS",
    "MPS_TO_KT",
    "M_TO_FT",
    "NM_TO_M",
    "ensure_utc",
    "epoch_to_iso",
    "utcnow",
]

FT_TO_M = 0.3048
M_TO_FT = 1.0 / FT_TO_M
NM_TO_M = 1852.0
KT_TO_MPS = NM_TO_M / 3600.0
MPS_TO_KT = 1.0 / KT_TO_MPS
FPM_TO_MPS = FT_TO_M / 60.0
EARTH_RADIUS_M = 6_371_000.0


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def epoch_to_iso(t: float | None) -> str | None:
    """Epoch seconds as an ISO 8601 UTC text ending in ``Z``; None for None, NaN or infinity."""
    if t is None or not math.isfinite(t):
        return None
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def ensure_utc(value: datetime, field: str = "time") -> datetime:
    """Return ``value`` in UTC; naive datetimes are refused (they are ambiguous)."""
    from sharedsky.errors import InvalidInput

    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InvalidInput("time must carry a time zone (UTC)", field)
    return value.astimezone(UTC)
