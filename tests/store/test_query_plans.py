"""The hot statements' plans scale with what they find, not with the product of the tables.

psycopg prepares the hot statements after a few executions, and PostgreSQL then may switch to a
generic plan, chosen without the parameter values. For an area query it guesses that the
altitude and time filters keep about one intent; when it then scans the cell table once per
intent that passes them, a busy period (a hundred-odd intents overlapping in time, anywhere)
makes every query cost milliseconds of database CPU. These tests force the generic plans and
count the rows each statement reads from the cell tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg import sql as pg_sql

from sharedsky.store import open_store
from sharedsky.store.intent_sql import PG_BATCH
from sharedsky.store.pg_batch import Statement

pytestmark = pytest.mark.postgres

# Few enough that a scan of the cell table looks cheap to the planner (the case in which the
# former statements got per-intent scans: 14 160 cell rows read for one query here).
N_INTENTS = 60
CELLS_EACH = 4
NOW_US = 1_900_000_000_000_000


def _rows_read(plan: dict[str, Any], table: str) -> int:
    """Rows a plan (EXPLAIN ANALYZE, JSON) read from ``table``: returned plus filtered out,
    over every loop of every node that scans it."""
    own = 0
    if plan.get("Relation Name") == table:
        per_loop = plan["Actual Rows"] + plan.get("Rows Removed by Filter", 0)
        own = round(per_loop * plan["Actual Loops"])
    return own + sum(_rows_read(child, table) for child in plan.get("Plans", []))


@pytest.fixture
def busy(pg_url: str, pg_connection: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """N_INTENTS intents, each in its own cells, all overlapping in altitude and time; one
    subscription per intent; statistics up to date; generic plans forced."""
    open_store(pg_url).close()  # migrations
    conn = pg_connection
    conn.execute(
        "INSERT INTO subscriptions (id, manager, version, uss_base_url, "
        "notify_for_operational_intents, notify_for_constraints, implicit, "
        "altitude_lower_m, altitude_upper_m, start_us, end_us, updated_us, notification_index) "
        "SELECT 's' || g, 'uss1', '1', 'https://uss1.example.com', true, false, true, "
        "0, 120, %(now)s, %(now)s + 3600000000, %(now)s, 0 FROM generate_series(1, %(n)s) g",
        {"n": N_INTENTS, "now": NOW_US},
    )
    conn.execute(
        "INSERT INTO operational_intents (id, manager, version, state, ovn, uss_base_url, "
        "subscription_id, altitude_lower_m, altitude_upper_m, start_us, end_us, updated_us) "
        "SELECT 'i' || g, 'uss1', 1, 'Accepted', 'ovn-' || g, 'https://uss1.example.com', "
        "'s' || g, 0, 120, %(now)s, %(now)s + 3600000000, %(now)s "
        "FROM generate_series(1, %(n)s) g",
        {"n": N_INTENTS, "now": NOW_US},
    )
    conn.execute(
        "INSERT INTO operational_intent_cells (cell, entity_id) "
        "SELECT g * 16 + k, 'i' || g FROM generate_series(1, %(n)s) g, "
        "generate_series(0, %(c)s - 1) k",
        {"n": N_INTENTS, "c": CELLS_EACH},
    )
    conn.execute(
        "INSERT INTO subscription_cells (cell, subscription_id) "
        "SELECT cell, 's' || substr(entity_id, 2) FROM operational_intent_cells"
    )
    conn.execute("ANALYZE")
    conn.execute("SET plan_cache_mode = force_generic_plan")
    return conn


def _explain(
    conn: psycopg.Connection[Any], statement: Statement, params: dict[str, Any]
) -> dict[str, Any]:
    """EXPLAIN ANALYZE of a hot-path statement (:mod:`sharedsky.store.pg_batch`) as a
    server-side prepared statement, i.e. with the plan the hot path gets; rolled back."""
    numbered, names = statement.sql.decode(), statement.params
    args = pg_sql.SQL(", ").join(pg_sql.Literal(params[n]) for n in names)
    explain = pg_sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE hot({})").format(args)
    with conn.transaction(force_rollback=True):
        conn.execute(f"PREPARE hot AS {numbered}")  # type: ignore[arg-type]
        row = conn.execute(explain).fetchone()
        conn.execute("DEALLOCATE hot")
    assert row is not None
    plan: dict[str, Any] = row[0][0]["Plan"]
    assert "$1" in str(plan), "expected a generic plan (parameters as $n)"
    return plan


def _area(cells: list[int]) -> dict[str, Any]:
    return {
        "cells": cells,
        "lo": 0.0,
        "hi": 120.0,
        "start": NOW_US,
        "end": NOW_US + 3_600_000_000,
    }


def test_an_area_query_reads_each_cell_row_at_most_once(
    busy: psycopg.Connection[Any],
) -> None:
    cells = [16 * 7 + k for k in range(CELLS_EACH)]  # the cells of intent i7
    plan = _explain(busy, PG_BATCH.query_oirs, _area(cells))
    assert _rows_read(plan, "operational_intent_cells") <= N_INTENTS * CELLS_EACH


def test_an_intent_write_context_reads_each_cell_row_at_most_once(
    busy: psycopg.Connection[Any],
) -> None:
    cells = [16 * 7 + k for k in range(CELLS_EACH)]
    params = _area(cells) | {"id": "i7", "me": "uss1"}
    plan = _explain(busy, PG_BATCH.context[True], params)
    # two parts read the cells: the intent's own and the area's
    assert _rows_read(plan, "operational_intent_cells") <= 2 * N_INTENTS * CELLS_EACH


def test_the_subscribers_of_a_write_are_found_from_the_cells(
    busy: psycopg.Connection[Any],
) -> None:
    cells = [16 * 7 + k for k in range(CELLS_EACH)]
    sql = PG_BATCH.write[False]
    params: dict[str, Any] = {
        "id": "i7",
        "manager": "uss1",
        "version": 2,
        "state": "Accepted",
        "ovn": "ovn-7b",
        "uss_base_url": "https://uss1.example.com",
        "subscription_id": "s7",
        "altitude_lower_m": 0.0,
        "altitude_upper_m": 120.0,
        "start_us": NOW_US,
        "end_us": NOW_US + 3_600_000_000,
        "updated_us": NOW_US,
        "gone": [],
        "added": [],
        "time": datetime.now(UTC),
        "actor": "uss1",
        "operation": "update",
        "entity_type": "operational_intent_reference",
        "entity_id": "i7",
        "payload": "{}",
        "claimed_time": None,
        "notify": cells,
        "n_start": NOW_US,
        "n_end": NOW_US + 3_600_000_000,
        "now": NOW_US,
        "true": True,
    }
    plan = _explain(busy, sql, params)
    assert _rows_read(plan, "subscription_cells") <= N_INTENTS * CELLS_EACH


def test_the_delete_of_an_intent_reads_each_cell_row_at_most_once(
    busy: psycopg.Connection[Any],
) -> None:
    cells = [16 * 7 + k for k in range(CELLS_EACH)]
    lock = _explain(busy, PG_BATCH.lock_of_oir, {"id": "i7"})
    assert _rows_read(lock, "operational_intent_cells") <= N_INTENTS * CELLS_EACH
    event = {
        "time": datetime.now(UTC),
        "actor": "uss1",
        "operation": "delete",
        "entity_type": "operational_intent_reference",
        "entity_id": "i7",
        "payload": "{}",
        "claimed_time": None,
    }
    notify = {
        "notify": cells,
        "n_start": NOW_US,
        "n_end": NOW_US + 3_600_000_000,
        "now": NOW_US,
        "true": True,
    }
    plan = _explain(busy, PG_BATCH.delete[False], {"id": "i7"} | event | notify)
    assert _rows_read(plan, "operational_intent_cells") <= N_INTENTS * CELLS_EACH
    assert _rows_read(plan, "subscription_cells") <= N_INTENTS * CELLS_EACH
    with_sub = _explain(busy, PG_BATCH.delete[True], {"id": "i7", "subscription_id": "s7"} | event)
    assert _rows_read(with_sub, "operational_intent_cells") <= N_INTENTS * CELLS_EACH
    assert _rows_read(with_sub, "subscription_cells") <= N_INTENTS * CELLS_EACH
    plan = _explain(busy, PG_BATCH.event_and_subscribers, event | notify)
    assert _rows_read(plan, "subscription_cells") <= N_INTENTS * CELLS_EACH
