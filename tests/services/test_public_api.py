"""The public names of the DSS layers are pinned: a change here is a change of the contract."""

from __future__ import annotations

import sharedsky.geo
import sharedsky.model
import sharedsky.services
import sharedsky.store


def test_exported_members_are_pinned() -> None:
    assert sorted(sharedsky.services.__all__) == ["StrategicService"]
    assert sorted(sharedsky.store.__all__) == [
        "AvailabilityRecord",
        "ConstraintRecord",
        "OirRead",
        "OirRecord",
        "OirWrite",
        "Store",
        "StrategicTx",
        "SubscriptionRecord",
        "TransientStorageError",
        "open_store",
    ]
    assert {
        "CELL_LEVEL",
        "LOCK_LEVEL",
        "MAX_AREA_KM2",
        "cover_outline",
        "cover_volume",
        "cover_volumes",
        "parent_cells",
    } <= set(sharedsky.geo.__all__)
    assert {
        "Caller",
        "OperationalIntentReference",
        "PutOperationalIntent",
        "SubscriberToNotify",
        "Volume4D",
        "NO_OVN_PHRASE",
        "NULL_SUBSCRIPTION_ID",
    } <= set(sharedsky.model.__all__)
    for module in (sharedsky.services, sharedsky.store, sharedsky.geo, sharedsky.model):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
