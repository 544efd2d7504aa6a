"""Alembic migrations shipped in the package upgrade an empty database on both backends."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, inspect

from sharedsky.errors import InvalidInput
from sharedsky.store import open_store

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
    finally:
        engine.dispose()


def test_store_is_usable_after_upgrade_and_events_append(db_url: str) -> None:
    store = open_store(db_url)
    try:
        now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
        with store.write() as tx:
            tx.append_event(now, "uss1", "create", "report", "r1", {"a": 1})
            tx.append_event(now, "uss1", "create", "report", "r2", {})
        with store.read() as tx:
            events = tx.events()
        assert [(e.entity_id, e.payload) for e in events] == [("r1", {"a": 1}), ("r2", {})]
        assert events[0].id < events[1].id and events[0].time == now
    finally:
        store.close()


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
