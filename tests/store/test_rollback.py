"""A transaction that raises is rolled back (nothing it wrote stays, also what it wrote after
the hot path opened it with its own BEGIN) and, on PostgreSQL, the connection keeps its prepared
hot-path statements (a refused write must not make the next attempt parse and plan them
again)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from sharedsky.geo import cover_outline
from sharedsky.model import LatLng, Polygon
from sharedsky.model.events import EntityType, Event, Operation
from sharedsky.store import Store, open_store


class Refused(Exception):
    pass


def _session(store: Store) -> tuple[int, set[str]]:
    """Backend pid and prepared statements of the connection the pool hands out next."""
    with store.read() as tx:
        conn = tx._conn
        # back under psycopg's own transaction handling after a hot-path transaction
        assert conn.connection.driver_connection.autocommit is False
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        names = set(conn.execute(text("SELECT name FROM pg_prepared_statements")).scalars())
    return pid, names


def _write_then_raise(store: Store, cells: frozenset[int], now: datetime) -> None:
    with pytest.raises(Refused), store.write() as tx:
        tx.oir_write_context(
            "i1", "uss1", cells, 0.0, 100.0, now, now + timedelta(hours=1), lock=cells
        )
        tx.append_event(Event(EntityType.REPORT, "rolled-back", Operation.CREATE, "uss1", {}, now))
        raise Refused


def test_a_transaction_that_raises_leaves_nothing(db_url: str) -> None:
    store = open_store(db_url)
    now = datetime.now(UTC) + timedelta(minutes=5)
    cells = cover_outline(Polygon((LatLng(46.0, 7.0), LatLng(46.0, 7.01), LatLng(46.01, 7.0))))
    try:
        _write_then_raise(store, cells, now)
        with store.write() as tx:  # the area lock was released with the rollback
            tx.oir_write_context(
                "i1", "uss1", cells, 0.0, 100.0, now, now + timedelta(hours=1), lock=cells
            )
            tx.append_event(Event(EntityType.REPORT, "kept", Operation.CREATE, "uss1", {}, now))
        with store.read() as tx:
            assert [e.entity_id for e in tx.events()] == ["kept"]
    finally:
        store.close()


@pytest.mark.postgres
def test_a_rollback_keeps_the_prepared_statements(pg_url: str) -> None:
    store = open_store(pg_url)
    now = datetime.now(UTC) + timedelta(minutes=5)
    cells = cover_outline(Polygon((LatLng(46.0, 7.0), LatLng(46.0, 7.01), LatLng(46.01, 7.0))))
    try:
        with store.write() as tx:  # prepares the lock and the context read
            tx.oir_write_context(
                "i1", "uss1", cells, 0.0, 100.0, now, now + timedelta(hours=1), lock=cells
            )
        pid, before = _session(store)
        assert before, "the hot path was not prepared"
        _write_then_raise(store, cells, now)
        pid_after, after = _session(store)
        assert pid_after == pid  # the same session (one connection in the pool so far)
        assert before <= after
        with store.read() as tx:
            assert tx.events() == []
    finally:
        store.close()
