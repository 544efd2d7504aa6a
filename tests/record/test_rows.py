"""The row form of an event: one set of column values, whichever way it is appended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sharedsky.model.events import SYSTEM_ACTOR, EntityType, Event, Operation, RecordedEvent
from sharedsky.record import EVENT_COLUMNS, event_row, recorded_event

T = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_the_row_has_the_record_columns_with_plain_values() -> None:
    event = Event(EntityType.LIVE_TRACK, "alpha/t1", Operation.DROPPED, SYSTEM_ACTOR, {"a": 1}, T)
    row = event_row(event)
    assert tuple(row) == EVENT_COLUMNS
    assert row == {
        "time": T,
        "actor": "sharedsky",
        "operation": "dropped",
        "entity_type": "live_track",
        "entity_id": "alpha/t1",
        "payload": {"a": 1},
        "claimed_time": None,
    }
    assert type(row["operation"]) is str and type(row["entity_type"]) is str


def test_a_row_reads_back_as_the_event_with_its_id() -> None:
    claimed = T - timedelta(seconds=2)
    event = Event(EntityType.REPORT, "r1", Operation.CREATE, "uss1", {"x": [1]}, T, claimed)
    back = recorded_event({"id": 7, **event_row(event)})
    assert back == RecordedEvent(
        EntityType.REPORT, "r1", Operation.CREATE, "uss1", {"x": [1]}, T, claimed, id=7
    )
    assert isinstance(back.entity_type, EntityType) and isinstance(back.operation, Operation)


def test_raw_rows_of_sqlite_read_as_utc_with_a_parsed_payload() -> None:
    back = recorded_event(
        {
            "id": 1,
            "time": "2026-12-07 12:00:00.000000",
            "actor": "uss1",
            "operation": "set",
            "entity_type": "uss_availability",
            "entity_id": "uss1",
            "payload": '{"availability": "Down"}',
            "claimed_time": None,
        }
    )
    assert back.time == T and back.time.tzinfo is UTC
    assert back.payload == {"availability": "Down"}
    row = event_row(Event(EntityType.REPORT, "r", Operation.CREATE, "u", {}, T))
    naive = recorded_event({"id": 2, **row, "time": T.replace(tzinfo=None)})
    assert naive.time == T and naive.time.tzinfo is UTC


def test_naive_times_are_refused() -> None:
    naive = T.replace(tzinfo=None)
    with pytest.raises(ValueError, match="UTC-aware"):
        event_row(Event(EntityType.REPORT, "r1", Operation.CREATE, "uss1", {}, naive))
    with pytest.raises(ValueError, match="UTC-aware"):
        event_row(Event(EntityType.REPORT, "r1", Operation.CREATE, "uss1", {}, T, naive))


def test_unknown_kinds_are_refused() -> None:
    row = {"id": 1, **event_row(Event(EntityType.REPORT, "r", Operation.CREATE, "u", {}, T))}
    with pytest.raises(ValueError):
        recorded_event(row | {"entity_type": "flight_plan"})
    with pytest.raises(ValueError):
        recorded_event(row | {"operation": "upsert"})
