"""Events of the shared record: what was done to which entity, by whom, when.

An :class:`Event` is one accepted change or observation, as it is appended to the record (the
store's ``events`` table); a :class:`RecordedEvent` is one read back, with the ``id`` the record
gave it (ids increase in the order of appending, which for writes whose areas meet is their
commit order).

Fields:

* ``entity_type`` (:class:`EntityType`) and ``entity_id``: what the event is about;
* ``operation`` (:class:`Operation`): what happened to it;
* ``actor``: who did it: the manager (USS) or party that made the request, or
  :data:`SYSTEM_ACTOR` for what sharedsky itself observed (alert transitions, deliveries,
  dropped tracks);
* ``payload``: a JSON-able dict, the entity as written (see the writers for its keys);
* ``time``: the server's time of the event, UTC-aware;
* ``claimed_time``: the time the sender claimed for it, UTC-aware, where the request carried
  one; else None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["SYSTEM_ACTOR", "EntityType", "Event", "Operation", "RecordedEvent"]

SYSTEM_ACTOR = "sharedsky"
"""The actor of the events sharedsky records on its own account."""


class EntityType(StrEnum):
    """The kinds of entity the record speaks of."""

    OPERATIONAL_INTENT_REFERENCE = "operational_intent_reference"
    CONSTRAINT_REFERENCE = "constraint_reference"
    SUBSCRIPTION = "subscription"
    USS_AVAILABILITY = "uss_availability"
    REPORT = "report"
    LIVE_ALERT = "live_alert"
    LIVE_TRACK = "live_track"


class Operation(StrEnum):
    """What happened to an entity.

    DSS writes: ``create``, ``update``, ``delete``, ``set`` (USS availability). Live alerts:
    ``raised``, ``updated``, ``cleared`` (their transitions, the values of
    :class:`~sharedsky.model.alerts.AlertStatus`) and ``delivered`` (a transition reached a
    party). Live tracks: ``dropped``.
    """

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    SET = "set"
    RAISED = "raised"
    UPDATED = "updated"
    CLEARED = "cleared"
    DELIVERED = "delivered"
    DROPPED = "dropped"


@dataclass(frozen=True, slots=True)
class Event:
    """One event to append to the record (see the module docstring for the fields)."""

    entity_type: EntityType
    entity_id: str
    operation: Operation
    actor: str
    payload: dict[str, Any]
    time: datetime
    claimed_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class RecordedEvent(Event):
    """An event as read back from the record, with its ``id`` (increasing)."""

    id: int = field(kw_only=True)
