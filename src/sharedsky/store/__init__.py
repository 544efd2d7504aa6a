"""Persistence of sharedsky (the only package that uses SQLAlchemy and Alembic).

``open_store(url)`` opens SQLite or PostgreSQL and migrates it to the newest schema;
``Store.read()`` / ``Store.write()`` are transactions that hand out a repository
(:class:`StrategicTx`) over plain records.
"""

from __future__ import annotations

from sharedsky.store.engine import Store, TransientStorageError, open_store
from sharedsky.store.strategic import (
    AvailabilityRecord,
    ConstraintRecord,
    EventRecord,
    OirRecord,
    StrategicTx,
    SubscriptionRecord,
)

__all__ = [
    "AvailabilityRecord",
    "ConstraintRecord",
    "EventRecord",
    "OirRecord",
    "Store",
    "StrategicTx",
    "SubscriptionRecord",
    "TransientStorageError",
    "open_store",
]
