"""Replay of the DSS's intent writes from the record, and the F3548 invariant checked on it.

The record holds one event per accepted write of an operational intent (``create``,
``update``, ``delete``; entity type ``operational_intent_reference``), whose payload is the
intent as written: ``manager``, ``state``, ``ovn``, ``cells`` (its S2 covering),
``altitude_lower_m`` / ``altitude_upper_m``, ``time_start`` / ``time_end`` (ISO 8601, UTC) and
the ``key`` (OVNs) its writer presented. Writes whose areas meet are appended in their commit
order (the area locks of :mod:`sharedsky.services.strategic`), so replaying the events in order
of their ids rebuilds the DSS's intent state as of each event.

:func:`replay_intents` does so and checks the invariant: no intent is created or updated into
state Accepted or Activated unless its key holds the current OVN of every other live intent it
intersects (shares a cell with and overlaps in altitude and time, bounds included), except the
Accepted intents of a USS whose availability was then Down (``uss_availability`` events,
operation ``set``). Other events are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sharedsky.model.events import EntityType, Operation, RecordedEvent
from sharedsky.model.strategic import OperationalIntentState, UssAvailabilityState

__all__ = ["CheckedWrite", "IntentReplay", "IntentState", "replay_intents"]

_CHECKED_STATES = frozenset({OperationalIntentState.ACCEPTED, OperationalIntentState.ACTIVATED})


@dataclass(frozen=True, slots=True)
class IntentState:
    """An operational intent as the DSS held it after a write (from the write's payload)."""

    id: str
    manager: str
    state: str
    ovn: str
    cells: frozenset[int]
    altitude_lower_m: float
    altitude_upper_m: float
    time_start: datetime
    time_end: datetime

    @classmethod
    def from_payload(cls, entity_id: str, payload: Mapping[str, Any]) -> IntentState:
        return cls(
            id=entity_id,
            manager=payload["manager"],
            state=payload["state"],
            ovn=payload["ovn"],
            cells=frozenset(payload["cells"]),
            altitude_lower_m=payload["altitude_lower_m"],
            altitude_upper_m=payload["altitude_upper_m"],
            time_start=datetime.fromisoformat(payload["time_start"]),
            time_end=datetime.fromisoformat(payload["time_end"]),
        )

    def intersects(self, other: IntentState) -> bool:
        """Whether the two share a cell and overlap in altitude and in time (bounds
        included), as the DSS's key check decides."""
        return (
            self.altitude_upper_m >= other.altitude_lower_m
            and self.altitude_lower_m <= other.altitude_upper_m
            and self.time_end >= other.time_start
            and self.time_start <= other.time_end
            and not self.cells.isdisjoint(other.cells)
        )


@dataclass(frozen=True, slots=True)
class CheckedWrite:
    """One write into state Accepted or Activated, as checked.

    ``live``: the other intents live just before it; ``required``: those of them whose OVN its
    key had to hold (intersecting, not exempt), with that OVN; ``missing``: the ids among
    ``required`` whose OVN the key lacked (empty when the write was correct).
    """

    event_id: int
    entity_id: str
    ovn: str
    key: frozenset[str]
    live: frozenset[str]
    required: Mapping[str, str]
    missing: frozenset[str]


@dataclass(frozen=True, slots=True)
class IntentReplay:
    """The result of :func:`replay_intents`: every checked write in order, and the intents
    live after the last event."""

    writes: tuple[CheckedWrite, ...]
    intents: Mapping[str, IntentState]

    @property
    def violations(self) -> tuple[CheckedWrite, ...]:
        """The writes whose key missed an OVN it had to hold."""
        return tuple(w for w in self.writes if w.missing)


def replay_intents(events: Iterable[RecordedEvent]) -> IntentReplay:
    """Replay ``events`` (in increasing ``id``) and check each intent write (module docstring).

    Raises ValueError if the ids do not increase.
    """
    live: dict[str, IntentState] = {}
    down: set[str] = set()  # USSs whose availability is Down
    writes: list[CheckedWrite] = []
    last_id: int | None = None
    for event in events:
        if last_id is not None and event.id <= last_id:
            raise ValueError(f"events out of order: {event.id} after {last_id}")
        last_id = event.id
        if event.entity_type == EntityType.USS_AVAILABILITY:
            if event.operation == Operation.SET:
                if event.payload.get("availability") == UssAvailabilityState.DOWN:
                    down.add(event.entity_id)
                else:
                    down.discard(event.entity_id)
            continue
        if event.entity_type != EntityType.OPERATIONAL_INTENT_REFERENCE:
            continue
        if event.operation == Operation.DELETE:
            live.pop(event.entity_id, None)
            continue
        if event.operation not in (Operation.CREATE, Operation.UPDATE):
            continue
        intent = IntentState.from_payload(event.entity_id, event.payload)
        if intent.state in _CHECKED_STATES:
            key = frozenset(event.payload.get("key") or ())
            others = {i: o for i, o in live.items() if i != intent.id}
            required = {
                i: o.ovn
                for i, o in others.items()
                if intent.intersects(o)
                and not (o.state == OperationalIntentState.ACCEPTED and o.manager in down)
            }
            writes.append(
                CheckedWrite(
                    event_id=event.id,
                    entity_id=intent.id,
                    ovn=intent.ovn,
                    key=key,
                    live=frozenset(others),
                    required=required,
                    missing=frozenset(i for i, ovn in required.items() if ovn not in key),
                )
            )
        live[intent.id] = intent
    return IntentReplay(tuple(writes), live)
