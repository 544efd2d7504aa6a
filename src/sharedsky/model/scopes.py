"""The OAuth scopes sharedsky checks, in one place.

F3548-21's five scopes guard the DSS (``/dss/v1``); sharedsky's two live scopes guard the
live tactical interface (``/live/v1``): pushing own tracks, and reading the picture and alerts.
A token carries them space-separated in its ``scope`` claim.
"""

from __future__ import annotations

__all__ = [
    "F3548_SCOPES",
    "LIVE_SCOPES",
    "SCOPE_AVAILABILITY_ARBITRATION",
    "SCOPE_CONFORMANCE_MONITORING_SA",
    "SCOPE_CONSTRAINT_MANAGEMENT",
    "SCOPE_CONSTRAINT_PROCESSING",
    "SCOPE_PICTURE_READ",
    "SCOPE_STRATEGIC_COORDINATION",
    "SCOPE_TRACKS_WRITE",
]

SCOPE_STRATEGIC_COORDINATION = "utm.strategic_coordination"
SCOPE_CONFORMANCE_MONITORING_SA = "utm.conformance_monitoring_sa"
SCOPE_CONSTRAINT_MANAGEMENT = "utm.constraint_management"
SCOPE_CONSTRAINT_PROCESSING = "utm.constraint_processing"
SCOPE_AVAILABILITY_ARBITRATION = "utm.availability_arbitration"

SCOPE_TRACKS_WRITE = "sharedsky.tracks.write"
"""Push own tracks and link them to own plans (live)."""
SCOPE_PICTURE_READ = "sharedsky.picture.read"
"""Read the live picture, alerts, feeds and configuration."""

F3548_SCOPES: tuple[str, ...] = (
    SCOPE_STRATEGIC_COORDINATION,
    SCOPE_CONFORMANCE_MONITORING_SA,
    SCOPE_CONSTRAINT_MANAGEMENT,
    SCOPE_CONSTRAINT_PROCESSING,
    SCOPE_AVAILABILITY_ARBITRATION,
)
"""Every F3548-21 scope: a token with all of them may call every DSS endpoint."""

LIVE_SCOPES: tuple[str, ...] = (SCOPE_TRACKS_WRITE, SCOPE_PICTURE_READ)
"""Both live scopes (push and read): what a party's own client signs for itself."""
