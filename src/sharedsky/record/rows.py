"""The canonical row form of an event: the values of the record's columns, by name.

:data:`EVENT_COLUMNS` names the columns an appended event fills (the record adds ``id``), in
the order of the table; :func:`event_row` gives their values for an :class:`Event` (enumerations
as their plain string values, times UTC-aware, the payload as a dict) and :func:`recorded_event`
reads a row back. Every writer of the record goes through :func:`event_row`, so the row of an
event is the same whichever way it was appended.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from sharedsky.model.events import EntityType, Event, Operation, RecordedEvent

__all__ = ["EVENT_COLUMNS", "event_row", "recorded_event"]

EVENT_COLUMNS = (
    "time",
    "actor",
    "operation",
    "entity_type",
    "entity_id",
    "payload",
    "claimed_time",
)
"""The columns of an event's row other than ``id``, in table order."""


def event_row(event: Event) -> dict[str, Any]:
    """The column values of ``event`` (keys: :data:`EVENT_COLUMNS`).

    Raises ValueError for a naive ``time`` or ``claimed_time``: the record holds UTC only.
    """
    if event.time.tzinfo is None or (
        event.claimed_time is not None and event.claimed_time.tzinfo is None
    ):
        raise ValueError(f"event times must be UTC-aware: {event!r}")
    return {
        "time": event.time,
        "actor": event.actor,
        "operation": event.operation.value,
        "entity_type": event.entity_type.value,
        "entity_id": event.entity_id,
        "payload": event.payload,
        "claimed_time": event.claimed_time,
    }


def recorded_event(row: Mapping[str, Any]) -> RecordedEvent:
    """The event of a row read from the record (keys ``id`` and :data:`EVENT_COLUMNS`).

    Times without a zone are UTC (SQLite returns them so); a payload given as JSON text (a raw
    read of SQLite's column) is parsed.
    """
    payload = row["payload"]
    if isinstance(payload, str | bytes):
        payload = orjson.loads(payload)
    claimed = row.get("claimed_time")
    return RecordedEvent(
        entity_type=EntityType(row["entity_type"]),
        entity_id=row["entity_id"],
        operation=Operation(row["operation"]),
        actor=row["actor"],
        payload=payload,
        time=_utc(row["time"]),
        claimed_time=None if claimed is None else _utc(claimed),
        id=row["id"],
    )


def _utc(value: datetime | str) -> datetime:
    if isinstance(value, str):  # a raw read of SQLite's column
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
