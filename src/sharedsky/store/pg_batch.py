"""PostgreSQL: the statements of one step of a transaction sent to the server in one write.

The intent-write hot path sends two or three statements per round trip (a lock and a read;
a write and its ``COMMIT``). psycopg's pipeline mode sends each statement as soon as it is
queued, and it does so in ``PGconn.flush()``, which keeps the interpreter lock: the thread that
has just woken the database backend may lose its core to it while every other thread of the
process waits for the lock. Measured on the DSS benchmark, sending a round trip's statements in
one write gave 8-11 % more writes per second in separate areas and 4-8 % in busy ones.

:func:`run` queues the statements in libpq (``send_query_prepared`` releases the interpreter
lock), sends them at the pipeline's sync in one write, and waits for the answers in
``select.poll`` (lock released). Statements are prepared on the server once per connection
under names of this module; parameters are adapted by psycopg's own
:class:`~psycopg.adapt.Transformer` in text format with their types left to the server (as
psycopg does for strings), and rows are loaded by it too, so they are exactly what a psycopg
cursor returns. psycopg forgets the server's prepared statements on some of its rollbacks
(``DEALLOCATE ALL``): a statement found missing is forgotten here too and the error is
raised as ``InvalidSqlStatementName``, which the store treats as a clash worth retrying.
"""

from __future__ import annotations

import select
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from sqlalchemy import TextClause
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

__all__ = ["BEGIN", "COMMIT", "Statement", "run"]

BEGIN = b"BEGIN"
COMMIT = b"COMMIT"

_DIALECT = PGDialect_psycopg(paramstyle="numeric_dollar")
_PREPARED: weakref.WeakKeyDictionary[psycopg.Connection[Any], set[bytes]] = (
    weakref.WeakKeyDictionary()
)
_MISSING_STATEMENT = "26000"  # invalid_sql_statement_name


class Statement:
    """A statement of the hot path: its server-side name, its SQL with ``$n`` parameters and
    the names of those parameters in order."""

    def __init__(self, name: str, clause: TextClause) -> None:
        compiled = clause.compile(dialect=_DIALECT)
        self.name = f"sharedsky_{name}".encode()
        self.sql = str(compiled).encode()
        self.params: tuple[str, ...] = tuple(compiled.positiontup or ())

    def __repr__(self) -> str:
        return f"Statement({self.name.decode()!r})"


Step = tuple[Statement, Mapping[str, Any]] | bytes
"""A prepared statement with its parameters by name, or a command without parameters
(:data:`BEGIN`, :data:`COMMIT`)."""


def run(conn: psycopg.Connection[Any], steps: Sequence[Step]) -> list[list[tuple[Any, ...]]]:
    """Send ``steps`` to the server in one write and return the rows of each (empty for a
    command), in order. The connection must not be in pipeline mode already.

    If a step fails, the server skips the rest: every answer up to the sync is read, then the
    first error is raised as psycopg's exception for its SQLSTATE (a transaction that the steps
    or the caller opened is then in the aborted state, for the caller to roll back). Anything
    else that goes wrong on the way (a parameter missing, the connection lost) closes the
    connection."""
    pgconn = conn.pgconn
    prepared = _PREPARED.setdefault(conn, set())
    transformer = Transformer.from_context(conn)
    answers: list[tuple[bytes | None, int]] = []  # (name prepared by it, or None; step index)
    pgconn.enter_pipeline_mode()
    try:
        for index, step in enumerate(steps):
            if isinstance(step, bytes):
                pgconn.send_query_params(step, None)
                answers.append((None, index))
                continue
            statement, values = step
            if statement.name not in prepared:
                pgconn.send_prepare(statement.name, statement.sql)
                answers.append((statement.name, -1))
            params = transformer.dump_sequence(
                [values[p] for p in statement.params], [PyFormat.TEXT] * len(statement.params)
            )
            pgconn.send_query_prepared(statement.name, params)
            answers.append((None, index))
        pgconn.pipeline_sync()
        _flush(pgconn)
        results = _read_until_sync(pgconn)
        pgconn.exit_pipeline_mode()
    except BaseException:
        # Half a pipeline cannot be taken back (statements queued or on their way, answers
        # unread): the connection is closed, and the pool replaces it.
        conn.close()
        raise
    if len(results) != len(answers):
        raise pg_errors.InternalError(
            f"{len(results)} answers in the pipeline for {len(answers)} statements"
        )
    rows: list[list[tuple[Any, ...]]] = [[] for _ in steps]
    error: psycopg.Error | None = None
    for (prepares, index), result in zip(answers, results, strict=True):
        status = result.status
        if status == pq.ExecStatus.FATAL_ERROR:
            if error is None:
                error = _error(result, conn)
            continue
        if status == pq.ExecStatus.PIPELINE_ABORTED:
            continue
        if prepares is not None:
            prepared.add(prepares)
        elif status == pq.ExecStatus.TUPLES_OK and result.ntuples:
            transformer.set_pgresult(result)
            rows[index] = transformer.load_rows(0, result.ntuples, tuple)
    if error is not None:
        if error.sqlstate == _MISSING_STATEMENT:
            prepared.clear()
        raise error
    return rows


def _flush(pgconn: pq.abc.PGconn) -> None:
    while pgconn.flush():  # 1: more to send (a full socket buffer)
        _wait(pgconn, select.POLLOUT)


def _wait(pgconn: pq.abc.PGconn, event: int) -> None:
    poller = select.poll()
    poller.register(pgconn.socket, event)
    poller.poll()  # releases the interpreter lock while it waits


def _read_until_sync(pgconn: pq.abc.PGconn) -> list[pq.abc.PGresult]:
    """The result of each queued statement, in order, up to the pipeline's sync (which is
    consumed): the last result of a statement that returned several (it never happens here)."""
    results: list[pq.abc.PGresult] = []
    current: pq.abc.PGresult | None = None
    while True:
        if pgconn.is_busy():
            _wait(pgconn, select.POLLIN)
            pgconn.consume_input()
            continue
        result = pgconn.get_result()
        if result is None:  # the end of one statement's results
            if current is not None:
                results.append(current)
                current = None
            continue
        if result.status == pq.ExecStatus.PIPELINE_SYNC:
            return results
        current = result


def _error(result: pq.abc.PGresult, conn: psycopg.Connection[Any]) -> psycopg.Error:
    encoding = conn.info.encoding
    sqlstate = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
    message = (result.error_message or b"").decode(encoding, "replace").strip()
    try:
        cls = pg_errors.lookup(sqlstate)
    except KeyError:
        cls = pg_errors.DatabaseError
    return cls(message or f"database error {sqlstate}")
