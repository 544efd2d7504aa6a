"""Statements sent in one write (:mod:`sharedsky.store.pg_batch`): the same rows as a psycopg
cursor, errors raised by SQLSTATE with the connection left usable, and statements that a
rollback deallocated prepared again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors
from sqlalchemy import text

from sharedsky.store import pg_batch

pytestmark = pytest.mark.postgres

VALUES = text(
    "SELECT CAST(:i AS bigint) AS i, CAST(:f AS float8) AS f, CAST(:s AS text) AS s, "
    "CAST(:n AS text) AS n, CAST(:cells AS bigint[]) AS cells, CAST(:b AS boolean) AS b, "
    "CAST(:t AS timestamptz) AS t, CAST(:texts AS text[]) AS texts, CAST(:i AS bigint) + 1 AS j"
)
PARAMS: dict[str, Any] = {
    "i": -(1 << 62),
    "f": float("-inf"),
    "s": "a 'quoted' \"text\", {braced} | piped",
    "n": None,
    "cells": "{1,2,3}",
    "b": True,
    "t": datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    "texts": ['0|"a"|{1,2}', "~", "b\\c"],
}
FAILS = text("SELECT 1 / CAST(:zero AS integer)")


@pytest.fixture
def conn(pg_connection: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    return pg_connection


def test_rows_are_those_of_a_psycopg_cursor(conn: psycopg.Connection[Any]) -> None:
    statement = pg_batch.Statement("test_values", VALUES)
    expected = conn.execute(
        "SELECT CAST(%(i)s AS bigint), CAST(%(f)s AS float8), CAST(%(s)s AS text), "
        "CAST(%(n)s AS text), CAST(%(cells)s AS bigint[]), CAST(%(b)s AS boolean), "
        "CAST(%(t)s AS timestamptz), CAST(%(texts)s AS text[]), CAST(%(i)s AS bigint) + 1",
        PARAMS,
    ).fetchall()
    for _ in range(2):  # prepared on the first run, reused on the second
        begin, rows, commit = pg_batch.run(
            conn, [pg_batch.BEGIN, (statement, PARAMS), pg_batch.COMMIT]
        )
        assert begin == [] and commit == []
        assert rows == expected
        assert rows[0][6] == PARAMS["t"] and rows[0][7] == PARAMS["texts"]
    assert conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert conn.pgconn.pipeline_status == psycopg.pq.PipelineStatus.OFF


def test_an_error_is_raised_by_its_sqlstate_after_the_whole_answer_is_read(
    conn: psycopg.Connection[Any],
) -> None:
    ok = pg_batch.Statement("test_values", VALUES)
    fails = pg_batch.Statement("test_fails", FAILS)
    with pytest.raises(pg_errors.DivisionByZero, match="division by zero"):
        pg_batch.run(conn, [pg_batch.BEGIN, (ok, PARAMS), (fails, {"zero": 0}), (ok, PARAMS)])
    # The transaction is aborted, the pipeline is closed, and nothing else is pending.
    assert conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.INERROR
    assert conn.pgconn.pipeline_status == psycopg.pq.PipelineStatus.OFF
    conn.pgconn.exec_(b"ROLLBACK")
    # Statements prepared before the failure stay prepared; the connection works.
    assert pg_batch.run(conn, [(ok, PARAMS)])[0][0][0] == PARAMS["i"]
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_statement_deallocated_by_a_rollback_is_prepared_again(
    conn: psycopg.Connection[Any],
) -> None:
    statement = pg_batch.Statement("test_values", VALUES)
    assert pg_batch.run(conn, [(statement, PARAMS)])[0]
    conn.execute("DEALLOCATE ALL")  # what psycopg sends on some of its rollbacks
    with pytest.raises(pg_errors.InvalidSqlStatementName) as caught:
        pg_batch.run(conn, [(statement, PARAMS)])
    assert caught.value.sqlstate == "26000"  # retried by the store (TransientStorageError)
    assert pg_batch.run(conn, [(statement, PARAMS)])[0][0][0] == PARAMS["i"]


def test_a_step_that_cannot_be_sent_closes_the_connection(conn: psycopg.Connection[Any]) -> None:
    statement = pg_batch.Statement("test_values", VALUES)
    with pytest.raises(KeyError):
        pg_batch.run(conn, [pg_batch.BEGIN, (statement, {"i": 1})])  # the other values missing
    assert conn.closed
