"""Alembic migrations shipped in the package upgrade an empty database on both backends."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect

from sharedsky.errors import InvalidInput
from sharedsky.model.events import SYSTEM_ACTOR, EntityType, Event, Operation, RecordedEvent
from sharedsky.record import EVENT_COLUMNS
from sharedsky.store import open_store
from sharedsky.store.engine import MIGRATIONS_DIR

EXPECTED_TABLES = {
    "alembic_version",
    "constraint_cells",
    "constraints",
    "events",
    "operational_intent_cells",
    "operational_intents",
    "reports",
    "subscription_cells",
    "subscriptions",
    "uss_availability",
}


def test_upgrade_empty_database_to_head(db_url: str) -> None:
    store = open_store(db_url, upgrade=False)
    try:
        assert store.current_revision() is None
        store.upgrade()
        head = store.current_revision()
        assert head is not None
        store.upgrade()  # idempotent
        assert store.current_revision() == head
    finally:
        store.close()
    engine = create_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
        pk = inspect(engine).get_pk_constraint("operational_intent_cells")
        assert pk["constrained_columns"][0] == "cell"  # the spatial index starts with the cell
        columns = {c["name"]: c for c in inspect(engine).get_columns("events")}
        assert ["id", *EVENT_COLUMNS] == list(columns)
        assert columns["claimed_time"]["nullable"]
    finally:
        engine.dispose()


def test_store_is_usable_after_upgrade_and_events_append(db_url: str) -> None:
    store = open_store(db_url)
    try:
        now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
        with store.write() as tx:
            tx.append_event(Event(EntityType.REPORT, "r1", Operation.CREATE, "uss1", {"a": 1}, now))
            tx.append_event(Event(EntityType.REPORT, "r2", Operation.CREATE, "uss1", {}, now))
        with store.read() as tx:
            events = tx.events()
        assert [(e.entity_id, e.payload) for e in events] == [("r1", {"a": 1}), ("r2", {})]
        assert events[0].id < events[1].id and events[0].time == now
    finally:
        store.close()


def test_events_keep_their_claimed_time_and_order(db_url: str) -> None:
    store = open_store(db_url)
    try:
        now = datetime(2026, 12, 7, 12, 0, 0, 250_000, tzinfo=UTC)
        claimed = datetime(2026, 12, 7, 11, 59, 58, 125_000, tzinfo=UTC)
        appended = [
            Event(EntityType.LIVE_ALERT, "a1", Operation.RAISED, SYSTEM_ACTOR, {"seq": 1}, now),
            Event(
                EntityType.LIVE_ALERT,
                "a1",
                Operation.DELIVERED,
                SYSTEM_ACTOR,
                {"party": "alpha", "seq": 1},
                now + timedelta(milliseconds=5),
                claimed,
            ),
        ]
        with store.write() as tx:
            tx.append_events(appended)
            tx.append_event(Event(EntityType.REPORT, "r1", Operation.CREATE, "uss1", {}, now))
        with store.read() as tx:
            read = tx.events(EntityType.LIVE_ALERT, "a1")
        assert [_unrecorded(e) for e in read] == appended
        assert read[0].id < read[1].id
        assert read[1].claimed_time == claimed and read[0].claimed_time is None
        assert isinstance(read[1].operation, Operation) and read[1].entity_type == "live_alert"
    finally:
        store.close()


def test_the_claimed_time_migration_keeps_the_rows_both_ways(db_url: str) -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    store = open_store(db_url)
    try:
        with store.write() as tx:
            tx.append_event(Event(EntityType.REPORT, "r1", Operation.CREATE, "uss1", {"a": 1}, now))
        with store.read() as tx:
            before = tx.events()
    finally:
        store.close()
    engine = create_engine(db_url)
    try:
        for revision, migrate in (("0001_strategic", command.downgrade), ("head", command.upgrade)):
            with engine.begin() as conn:
                cfg = Config()
                cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
                cfg.attributes["connection"] = conn
                migrate(cfg, revision)
            columns = [c["name"] for c in inspect(engine).get_columns("events")]
            assert ("claimed_time" in columns) == (revision == "head")
    finally:
        engine.dispose()
    store = open_store(db_url)
    try:
        with store.read() as tx:
            assert tx.events() == before
    finally:
        store.close()


def _unrecorded(event: RecordedEvent) -> Event:
    return Event(
        event.entity_type,
        event.entity_id,
        event.operation,
        event.actor,
        event.payload,
        event.time,
        event.claimed_time,
    )


@pytest.mark.postgres
def test_concurrent_processes_starting_together_migrate_once(pg_url: str) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            open_store(pg_url).close()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []


@pytest.mark.parametrize("url", ["sqlite://", "mysql://x/y", "not a url"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        open_store(url)
