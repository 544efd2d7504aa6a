"""The live tactical service: track pictures per party, continuous detection, shared alerts.

See :mod:`sharedsky.services.live.service` for the rules (cycles, levels, need to know,
plausibility, silence) and :mod:`sharedsky.services.live.config` for the configuration file.
"""

from __future__ import annotations

from sharedsky.services.live.config import (
    ConfiguredLine,
    ConfiguredVolume,
    LiveConfig,
    PartyConfig,
)
from sharedsky.services.live.service import (
    AlertSubscription,
    CycleReport,
    FeedStatus,
    IngestResult,
    LiveService,
    TrackView,
)

__all__ = [
    "AlertSubscription",
    "ConfiguredLine",
    "ConfiguredVolume",
    "CycleReport",
    "FeedStatus",
    "IngestResult",
    "LiveConfig",
    "LiveService",
    "PartyConfig",
    "TrackView",
]
