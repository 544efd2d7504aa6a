"""The public names of the live layers are pinned: a change here is a change of the contract."""

from __future__ import annotations

import sharedsky.feeds
import sharedsky.model.alerts
import sharedsky.model.tracks
import sharedsky.services.live


def test_exported_members_are_pinned() -> None:
    assert sorted(sharedsky.services.live.__all__) == [
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
    assert sorted(sharedsky.feeds.__all__) >= ["Feed", "FeedHealth", "Reject", "TrackBatch"]
    assert sorted(sharedsky.model.tracks.__all__) == [
        "NAMINGS",
        "NUMERIC_FIELDS",
        "Reject",
        "TrackBatch",
    ]
    assert {"Alert", "AlertInput", "AlertKind", "LiveLevel"} <= set(sharedsky.model.alerts.__all__)
    for module in (sharedsky.services.live, sharedsky.feeds, sharedsky.model.tracks):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
