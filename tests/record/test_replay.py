"""Replaying hand-built histories of intent writes: the F3548 invariant on the record."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sharedsky.model.events import EntityType, Operation, RecordedEvent
from sharedsky.record import replay_intents

T = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
OIR = EntityType.OPERATIONAL_INTENT_REFERENCE


def write(
    event_id: int,
    entity_id: str,
    ovn: str,
    key: Iterable[str] = (),
    *,
    operation: Operation = Operation.CREATE,
    manager: str = "uss1",
    state: str = "Accepted",
    cells: Iterable[int] = (1, 2),
    lo: float = 0.0,
    hi: float = 100.0,
    start: datetime = T,
    end: datetime = T + HOUR,
) -> RecordedEvent:
    """An intent write as the service records it."""
    payload: dict[str, Any] = {
        "version": 1,
        "manager": manager,
        "uss_base_url": f"https://{manager}.example.com",
        "time_start": start.isoformat(),
        "time_end": end.isoformat(),
        "altitude_lower_m": lo,
        "altitude_upper_m": hi,
        "cells": sorted(cells),
        "state": state,
        "ovn": ovn,
        "subscription_id": None,
        "key": sorted(key),
    }
    return RecordedEvent(OIR, entity_id, operation, manager, payload, T, id=event_id)


def delete(event_id: int, entity_id: str, ovn: str) -> RecordedEvent:
    payload = write(event_id, entity_id, ovn).payload
    return RecordedEvent(OIR, entity_id, Operation.DELETE, "uss1", payload, T, id=event_id)


def availability(event_id: int, uss: str, value: str) -> RecordedEvent:
    return RecordedEvent(
        EntityType.USS_AVAILABILITY,
        uss,
        Operation.SET,
        "arbiter",
        {"availability": value, "version": "v"},
        T,
        id=event_id,
    )


def test_a_correct_history_passes() -> None:
    replay = replay_intents(
        [
            write(1, "a", "a1"),
            write(2, "b", "b1", ["a1"], manager="uss2"),
            write(3, "a", "a2", ["b1"], operation=Operation.UPDATE),
            write(4, "c", "c1", ["a2", "b1"], manager="uss3"),
        ]
    )
    assert replay.violations == ()
    assert [(w.event_id, w.entity_id) for w in replay.writes] == [
        (1, "a"),
        (2, "b"),
        (3, "a"),
        (4, "c"),
    ]
    assert [dict(w.required) for w in replay.writes] == [
        {},
        {"a": "a1"},
        {"b": "b1"},  # its own former OVN is not asked for
        {"a": "a2", "b": "b1"},
    ]
    assert {i: s.ovn for i, s in replay.intents.items()} == {"a": "a2", "b": "b1", "c": "c1"}


def test_a_write_missing_an_intersecting_ovn_is_named_with_its_event_id() -> None:
    replay = replay_intents(
        [
            write(10, "a", "a1"),
            write(11, "b", "b1", ["a1"]),
            write(12, "a", "a2", ["b1"], operation=Operation.UPDATE),
            write(13, "c", "c1", ["a1", "b1"]),  # a1 is stale: a is at a2
        ]
    )
    (bad,) = replay.violations
    assert (bad.event_id, bad.entity_id, bad.ovn) == (13, "c", "c1")
    assert bad.missing == {"a"} and bad.key == {"a1", "b1"}


def test_a_delete_removes_the_intent() -> None:
    replay = replay_intents(
        [
            write(1, "a", "a1"),
            write(2, "b", "b1", ["a1"]),
            delete(3, "a", "a1"),
            write(4, "b", "b2", [], operation=Operation.UPDATE),
            write(5, "c", "c1", ["b2"]),
        ]
    )
    assert replay.violations == ()
    assert replay.writes[-2].live == set() and replay.writes[-1].live == {"b"}
    assert set(replay.intents) == {"b", "c"}


@pytest.mark.parametrize(
    "apart",
    [
        {"cells": (3, 4)},  # other cells
        {"lo": 100.5, "hi": 200.0},  # above
        {"start": T + HOUR + timedelta(microseconds=1), "end": T + 2 * HOUR},  # later
        {"start": T - 2 * HOUR, "end": T - timedelta(microseconds=1)},  # earlier
    ],
)
def test_intents_that_do_not_intersect_are_not_required(apart: dict[str, Any]) -> None:
    replay = replay_intents([write(1, "a", "a1"), write(2, "b", "b1", [], **apart)])
    assert replay.violations == ()
    assert replay.writes[1].live == {"a"} and dict(replay.writes[1].required) == {}


@pytest.mark.parametrize(
    "touching",
    [
        {"cells": (2, 9)},  # one cell shared
        {"lo": 100.0, "hi": 200.0},  # altitude bounds meet
        {"start": T + HOUR, "end": T + 2 * HOUR},  # times meet
    ],
)
def test_intents_that_touch_intersect(touching: dict[str, Any]) -> None:
    replay = replay_intents([write(1, "a", "a1"), write(2, "b", "b1", [], **touching)])
    assert [(w.event_id, w.missing) for w in replay.violations] == [(2, {"a"})]


def test_accepted_intents_of_a_uss_marked_down_are_not_required() -> None:
    replay = replay_intents(
        [
            write(1, "a", "a1", manager="uss2"),
            write(2, "x", "x1", ["a1"], manager="uss2", state="Activated"),
            availability(3, "uss2", "Down"),
            write(4, "b", "b1", ["x1"]),  # a (Accepted) exempt, x (Activated) not
            availability(5, "uss2", "Normal"),
            write(6, "c", "c1", ["x1", "b1"]),  # a is required again
        ]
    )
    assert [dict(w.required) for w in replay.writes[2:]] == [
        {"x": "x1"},
        {"a": "a1", "x": "x1", "b": "b1"},
    ]
    assert [(w.event_id, w.missing) for w in replay.violations] == [(6, {"a"})]


def test_writes_into_other_states_change_the_state_but_are_not_checked() -> None:
    replay = replay_intents(
        [
            write(1, "a", "a1"),
            write(2, "b", "b1", []),  # a violation
            write(3, "a", "a2", [], operation=Operation.UPDATE, state="Nonconforming"),
            write(4, "c", "c1", ["a2", "b1"]),
        ]
    )
    assert [w.event_id for w in replay.writes] == [1, 2, 4]
    assert [w.event_id for w in replay.violations] == [2]
    assert replay.intents["a"].state == "Nonconforming"


def test_other_events_are_skipped_and_order_is_enforced() -> None:
    report = RecordedEvent(EntityType.REPORT, "r1", Operation.CREATE, "uss1", {}, T, id=2)
    replay = replay_intents([write(1, "a", "a1"), report, write(3, "b", "b1", ["a1"])])
    assert replay.violations == () and len(replay.writes) == 2
    with pytest.raises(ValueError, match="out of order"):
        replay_intents([write(2, "a", "a1"), write(2, "b", "b1", ["a1"])])
