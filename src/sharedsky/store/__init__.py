"""Persistence of sharedsky (the only package that uses SQLAlchemy and Alembic).

``open_store(url)`` opens SQLite or PostgreSQL and migrates it to the newest schema;
``Store.read()`` / ``Store.write()`` are transactions that hand out a repository
(:class:`StrategicTx`) over plain records. Events of the record
(:class:`~sharedsky.model.Event`) are appended with ``StrategicTx.append_event`` /
``append_events`` and read back as :class:`~sharedsky.model.RecordedEvent`.
"""

from __future__ import annotations

from sharedsky.store.engine import Store, TransientStorageError, open_store
from sharedsky.store.records import (
    AvailabilityRecord,
    ConstraintRecord,
    OirRecord,
    SubscriptionRecord,
)
from sharedsky.store.strategic import OirRead, OirWrite, StrategicTx

__all__ = [
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
