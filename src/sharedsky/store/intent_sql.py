"""The hot path of intent writes and queries: statements written once, per dialect.

A set of cells is ONE parameter: a bigint[] on PostgreSQL, a JSON array (json_each) on SQLite.
Each statement is built at import; SQLAlchemy compiles it once and psycopg prepares it on the
server after a few executions on a connection (:mod:`sharedsky.store.pg_batch` for the
statements sent at driver level).

Column lists come from the tables (:mod:`sharedsky.store.tables`) and the record's row form
(:mod:`sharedsky.store.events`), never written out by hand. The rows of a write's context are
read by the positions of their columns in :data:`CONTEXT_COLUMNS`, the one list of them
(:func:`oir_of_context`, :data:`KIND`, :data:`ID`, :data:`CELLS`, :data:`AVAILABILITY`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import text
from sqlalchemy.sql.elements import TextClause

from sharedsky.geo import LOCK_LEVEL
from sharedsky.store import events, pg_batch
from sharedsky.store import tables as t
from sharedsky.store.records import OirRecord, from_us

__all__ = [
    "AVAILABILITY",
    "CELLS",
    "CONTEXT_COLUMNS",
    "ID",
    "KIND",
    "LOCK_SQL",
    "PG_BATCH",
    "SQL",
    "SUBSCRIPTION_COLUMNS",
    "TRY_LOCK_SQL",
    "PgBatchSql",
    "Sql",
    "fingerprint",
    "oir_of_context",
    "pg_lock_of_oir_sql",
]

LOCK_SQL = text(
    "SELECT count(pg_advisory_xact_lock(u.k)) FROM unnest(CAST(:keys AS bigint[])) AS u(k)"
)
TRY_LOCK_SQL = text(
    "SELECT bool_and(pg_try_advisory_xact_lock(u.k)) FROM unnest(CAST(:keys AS bigint[])) AS u(k)"
)

_OIRS = t.oirs.name
_OIR_CELLS = t.oir_cells.name
_OIR_COLUMNS = tuple(c.name for c in t.oirs.c)  # the intent's row, id first
_OIR_DATA = tuple(c.name for c in t.oirs.c if not c.primary_key)  # the row but its id
_OIR_SELECT = ", ".join(f"o.{c}" for c in _OIR_COLUMNS)
_NULL_OIR_SELECT = ", ".join(["NULL"] * len(_OIR_COLUMNS))

CONTEXT_COLUMNS = ("kind", *_OIR_COLUMNS, "cells", "availability")
"""The columns of a row of an intent write's context, of an area query (``cells`` NULL) and
of the fingerprint's subquery, in order: ``kind`` (0: the intent itself, with its cells; 1: an
intersecting intent; 2: the writer's availability), the intent's row, its cells, and its
manager's availability."""


# Positions in a context row of the columns read one by one.
KIND = CONTEXT_COLUMNS.index("kind")
ID = CONTEXT_COLUMNS.index("id")
CELLS = CONTEXT_COLUMNS.index("cells")
AVAILABILITY = CONTEXT_COLUMNS.index("availability")

# The intent's columns in the order oir_of_context unpacks them, and their positions.
_OIR_FIELDS = (
    "id", "manager", "version", "state", "ovn", "uss_base_url", "subscription_id",
    "altitude_lower_m", "altitude_upper_m", "start_us", "end_us", "updated_us",
)  # fmt: skip
_OIR_AT = itemgetter(*(CONTEXT_COLUMNS.index(c) for c in _OIR_FIELDS))


def oir_of_context(row: Sequence[Any], cells: frozenset[int] = frozenset()) -> OirRecord:
    """The intent of a context row (:data:`CONTEXT_COLUMNS`), with ``cells``."""
    (
        entity_id,
        manager,
        version,
        state,
        ovn,
        uss_base_url,
        subscription_id,
        altitude_lower_m,
        altitude_upper_m,
        start_us,
        end_us,
        updated_us,
    ) = _OIR_AT(row)
    return OirRecord(
        id=entity_id,
        manager=manager,
        version=version,
        state=state,
        ovn=ovn,
        uss_base_url=uss_base_url,
        subscription_id=subscription_id,
        altitude_lower_m=altitude_lower_m,
        altitude_upper_m=altitude_upper_m,
        time_start=from_us(start_us),
        time_end=from_us(end_us),
        updated=from_us(updated_us),
        cells=cells,
    )


def _in_cells(dialect: str, param: str) -> str:
    if dialect == "postgresql":
        return f"= ANY(CAST(:{param} AS bigint[]))"
    return f"IN (SELECT value FROM json_each(:{param}))"


def _ids_in_cells(dialect: str, cell_table: str, fk: str, param: str) -> str:
    """A derived table ``hit(id)``: the distinct entities of ``cell_table`` in the cells of
    ``:param``. Joining the entity table to it (rather than filtering the entity table with
    ``id IN (...)``) makes the cells' primary key drive every plan: PostgreSQL's generic plan
    for ``IN`` guesses the altitude and time filters keep one row and may then scan the cell
    table once per entity that passes them, a cost that grows with the product of the two
    tables (measured: ~130 intents overlapping in time made each refused write cost ~5 ms of
    database CPU)."""
    return (
        f"(SELECT DISTINCT x.{fk} AS id FROM {cell_table} x "
        f"WHERE x.cell {_in_cells(dialect, param)}) hit"
    )


def _oir_overlap_sql(dialect: str, cells: str = "NULL AS cells") -> str:
    """Intents sharing a cell with ``:cells`` that overlap ``:lo..:hi`` and ``:start..:end``,
    each with its manager's availability; ``cells`` is the expression of the cells column."""
    return (
        f"SELECT 1 AS kind, {_OIR_SELECT}, {cells}, a.availability AS availability "
        f"FROM {_ids_in_cells(dialect, _OIR_CELLS, 'entity_id', 'cells')} "
        f"JOIN {_OIRS} o ON o.id = hit.id "
        "LEFT JOIN uss_availability a ON a.uss = o.manager "
        "WHERE o.altitude_upper_m >= :lo AND o.altitude_lower_m <= :hi "
        "AND o.end_us >= :start AND o.start_us <= :end"
    )


def _oir_context(dialect: str, conflicts: bool) -> str:
    """One statement for what an intent write reads after its lock: the intent itself with
    its cells (kind 0), the intersecting intents with availabilities (kind 1, if
    ``conflicts``) and the writer's own availability (kind 2)."""
    if dialect == "postgresql":
        cells = (
            f"ARRAY(SELECT c.cell FROM {_OIR_CELLS} c WHERE c.entity_id = o.id "
            "ORDER BY c.cell)"
        )
        null_cells = "CAST(NULL AS bigint[])"
    else:
        cells = f"(SELECT json_group_array(c.cell) FROM {_OIR_CELLS} c WHERE c.entity_id = o.id)"
        null_cells = "NULL"
    parts = [
        f"SELECT 0 AS kind, {_OIR_SELECT}, {cells} AS cells, NULL AS availability "
        f"FROM {_OIRS} o WHERE o.id = :id"
    ]
    if conflicts:
        parts.append(_oir_overlap_sql(dialect, null_cells))
    parts.append(
        f"SELECT 2, {_NULL_OIR_SELECT}, {null_cells}, availability FROM uss_availability "
        "WHERE uss = :me"
    )
    return " UNION ALL ".join(parts)


# PostgreSQL: a fingerprint of what an intent write decides on, one text per row of its context
# (with conflicts): the row's kind, id, version, state, OVN, subscription, times, cells (the
# intent's own) and availability. :func:`fingerprint` makes the same texts from rows read
# earlier, and a guarded write compares the two (sorted bytewise: COLLATE "C").
_FINGERPRINT_COLUMNS = (
    "kind", "id", "version", "state", "ovn", "subscription_id", "start_us", "end_us",
    "updated_us", "cells", "availability",
)  # fmt: skip
_FINGERPRINT_AT = tuple(CONTEXT_COLUMNS.index(c) for c in _FINGERPRINT_COLUMNS)
_PG_CONTEXT_FINGERPRINT = (
    "SELECT array_agg(f ORDER BY f COLLATE \"C\") FROM (SELECT concat_ws('|', "
    + ", ".join(f"coalesce(CAST(ctx.{c} AS text), '~')" for c in _FINGERPRINT_COLUMNS)
    + f") AS f FROM ({_oir_context('postgresql', True)}) ctx) fp"
)


def fingerprint(rows: Iterable[Sequence[Any]]) -> list[str] | None:
    """The texts of the PostgreSQL fingerprint of a write's context for context rows already
    read (None for none: ``array_agg`` of no rows is NULL)."""
    texts = []
    for r in rows:
        parts = []
        for i in _FINGERPRINT_AT:
            v = r[i]
            if v is None:
                parts.append("~")
            elif isinstance(v, list):
                parts.append("{" + ",".join(map(str, v)) + "}")
            else:
                parts.append(str(v))
        texts.append("|".join(parts))
    return sorted(texts, key=lambda t: t.encode()) or None


def _subscribers_sql(dialect: str) -> str:
    return (
        "SELECT s.id, s.uss_base_url "
        f"FROM {_ids_in_cells(dialect, 'subscription_cells', 'subscription_id', 'notify')} "
        "JOIN subscriptions s ON s.id = hit.id "
        "WHERE s.end_us >= :n_start AND s.start_us <= :n_end AND s.end_us >= :now "
        "AND s.notify_for_operational_intents = :true ORDER BY s.id"
    )


_OIR_VALUES = ", ".join(f":{c}" for c in _OIR_DATA)
_OIR_INSERT_INTO = f"INSERT INTO {_OIRS} ({', '.join(_OIR_COLUMNS)})"
_OIR_INSERT = f"{_OIR_INSERT_INTO} VALUES (:id, {_OIR_VALUES})"
_OIR_UPDATE = (
    f"UPDATE {_OIRS} SET " + ", ".join(f"{c} = :{c}" for c in _OIR_DATA) + " WHERE id = :id"
)


def _typed(sql: str) -> TextClause:
    return text(sql).bindparams(*events.PG_BINDS)


def _pg_oir_write(create: bool) -> TextClause:
    """PostgreSQL: the whole write of an intent in one statement (one round trip): the row,
    the cells that go and come, the event, and the subscriptions to notify."""
    row = _OIR_INSERT if create else _OIR_UPDATE
    return _typed(
        f"WITH w AS ({row} RETURNING id), "
        f"d AS (DELETE FROM {_OIR_CELLS} WHERE entity_id = :id "
        "AND cell = ANY(CAST(:gone AS bigint[]))), "
        f"i AS (INSERT INTO {_OIR_CELLS} (cell, entity_id) "
        "SELECT x, :id FROM unnest(CAST(:added AS bigint[])) AS x), "
        f"e AS ({events.pg_insert_sql()}) " + _subscribers_sql("postgresql")
    )


def _pg_oir_write_guarded(create: bool) -> TextClause:
    """PostgreSQL: :func:`_pg_oir_write` only if the context of the write (its fingerprint,
    :data:`_PG_CONTEXT_FINGERPRINT`) is still ``:expected``, evaluated on the statement's own
    snapshot (taken after the area lock). Returns a row of kind 0 if it wrote, and the
    subscriptions to notify (kind 1); no rows if the context had changed (nothing written)."""
    unchanged = f"(({_PG_CONTEXT_FINGERPRINT}) IS NOT DISTINCT FROM CAST(:expected AS text[]))"
    if create:
        # :id is compared with varchar columns elsewhere in the statement: one type.
        row = f"{_OIR_INSERT_INTO} SELECT CAST(:id AS varchar), {_OIR_VALUES} WHERE {unchanged}"
    else:
        row = f"{_OIR_UPDATE} AND {unchanged}"
    written = "EXISTS (SELECT 1 FROM w)"
    return _typed(
        f"WITH w AS ({row} RETURNING id), "
        f"d AS (DELETE FROM {_OIR_CELLS} WHERE entity_id = :id "
        f"AND cell = ANY(CAST(:gone AS bigint[])) AND {written}), "
        f"i AS (INSERT INTO {_OIR_CELLS} (cell, entity_id) "
        f"SELECT x, :id FROM unnest(CAST(:added AS bigint[])) AS x WHERE {written}), "
        f"e AS ({events.pg_insert_sql(only_if=written)}) "
        "SELECT 0 AS kind, NULL AS id, NULL AS uss_base_url FROM w UNION ALL "
        f"SELECT 1, s.id, s.uss_base_url FROM ({_subscribers_sql('postgresql')}) s "
        f"WHERE {written}"
    )


# The level-LOCK_LEVEL parent of an S2 cell id (signed 64-bit) in SQL, as
# :func:`sharedsky.geo.parent_cells` computes it: keep the bits above the level's marker bit,
# then set that bit (two's complement: the mask of every bit from the marker up is -marker).
_LOCK_MARKER = 1 << (2 * (30 - LOCK_LEVEL))


def pg_lock_of_oir_sql() -> str:
    """PostgreSQL: lock the area an intent covers now (the level-LOCK_LEVEL parents of its
    cells as :meth:`~sharedsky.store.StrategicTx.lock_area` takes them: ascending, in one
    statement) and return the intent's version and OVN as this statement read them (no row
    if there is no such intent, and no lock)."""
    parents = (
        f"SELECT DISTINCT (c.cell & ({-_LOCK_MARKER})) | {_LOCK_MARKER} AS k "
        f"FROM {_OIR_CELLS} c WHERE c.entity_id = o.id ORDER BY k"
    )
    return (
        "SELECT o.version, o.ovn, "
        f"(SELECT count(pg_advisory_xact_lock(p.k)) FROM ({parents}) p) AS locked "
        f"FROM {_OIRS} o WHERE o.id = :id"
    )


_SUBS = t.subscriptions.name
_SUB_CELLS = t.subscription_cells.name
SUBSCRIPTION_COLUMNS = tuple(c.name for c in t.subscriptions.c)
"""The columns of a subscription's row, in the order the delete of an intent reads them."""
_SUB_SELECT = ", ".join(f"s.{c}" for c in SUBSCRIPTION_COLUMNS)
_SUB_OF_OIR = f"(SELECT x.subscription_id FROM {_OIRS} x WHERE x.id = :id)"


def _pg_oir_delete(subscription: bool) -> TextClause:
    """PostgreSQL: the whole delete of an intent in one statement: the row, its cells, the
    event, and the subscriptions to notify (those of its extent, as :func:`_subscribers_sql`).

    With ``subscription``, the first of two statements: the intent's row and cells and the
    subscription ``:subscription_id`` with its cells, and the subscription's event (its
    foreign key holds at the end of the statement, once both rows are gone);
    :data:`_PG_EVENT_AND_SUBSCRIBERS` follows with the intent's event."""
    rows = (
        f"WITH w AS (DELETE FROM {_OIRS} WHERE id = :id), "
        f"d AS (DELETE FROM {_OIR_CELLS} WHERE entity_id = :id), "
    )
    if subscription:
        return _typed(
            rows
            + f"sd AS (DELETE FROM {_SUB_CELLS} WHERE subscription_id = :subscription_id), "
            f"s AS (DELETE FROM {_SUBS} WHERE id = :subscription_id) {events.pg_insert_sql()}"
        )
    return _typed(rows + f"e AS ({events.pg_insert_sql()}) " + _subscribers_sql("postgresql"))


_PG_EVENT_AND_SUBSCRIBERS = (
    f"WITH e AS ({events.pg_insert_sql()}) " + _subscribers_sql("postgresql")
)


class Sql:
    """The hot-path statements of one dialect (the intent's event, on SQLite, is appended by
    :func:`sharedsky.store.events.append`)."""

    def __init__(self, dialect: str) -> None:
        self.query_oirs = text(_oir_overlap_sql(dialect))
        self.context = {c: text(_oir_context(dialect, c)) for c in (False, True)}
        self.subscribers = text(_subscribers_sql(dialect))
        if dialect == "postgresql":
            self.pg_write = {c: _pg_oir_write(c) for c in (False, True)}
            self.pg_write_guarded = {c: _pg_oir_write_guarded(c) for c in (False, True)}
            self.pg_lock_of_oir = text(pg_lock_of_oir_sql())
            # The subscription of the intent :id, row-locked, and the other intents attached
            # to it: read after that row lock (a statement of its own, its own snapshot).
            self.pg_subscription_of_oir = text(
                f"SELECT {_SUB_SELECT} FROM {_SUBS} s WHERE s.id = {_SUB_OF_OIR} FOR UPDATE"
            )
            self.pg_co_attached = text(
                f"SELECT o.id FROM {_OIRS} o WHERE o.subscription_id = {_SUB_OF_OIR} "
                "AND o.id <> :id ORDER BY o.id"
            )
            self.pg_delete = {c: _pg_oir_delete(c) for c in (False, True)}
            self.pg_event_and_subscribers = _typed(_PG_EVENT_AND_SUBSCRIBERS)
        self.insert = text(_OIR_INSERT)
        self.update = text(_OIR_UPDATE)
        self.del_cells = text(
            f"DELETE FROM {_OIR_CELLS} WHERE entity_id = :id "
            f"AND cell {_in_cells(dialect, 'gone')}"
        )
        self.add_cells = text(
            f"INSERT INTO {_OIR_CELLS} (cell, entity_id) SELECT value, :id FROM json_each(:added)"
        )


SQL = {d: Sql(d) for d in ("postgresql", "sqlite")}


class PgBatchSql:
    """The hot path's statements for :func:`sharedsky.store.pg_batch.run`: the area query, the
    locks, the write context, the intent writes and deletes. Each round trip (a lock and the
    read behind it, a write and its COMMIT) is sent in one write on the psycopg connection
    underneath the SQLAlchemy transaction (same connection, same transaction): SQLAlchemy's
    per-execution work (result metadata, bind processing, the execution context) costs more
    CPU than the rest."""

    def __init__(self, sql: Sql) -> None:
        self.query_oirs = pg_batch.Statement("query_oirs", sql.query_oirs)
        self.lock = pg_batch.Statement("lock", LOCK_SQL)
        self.try_lock = pg_batch.Statement("try_lock", TRY_LOCK_SQL)
        self.context = {
            c: pg_batch.Statement(f"context_{int(c)}", q) for c, q in sql.context.items()
        }
        self.write = {c: pg_batch.Statement(f"write_{int(c)}", q) for c, q in sql.pg_write.items()}
        self.write_guarded = {
            c: pg_batch.Statement(f"write_guarded_{int(c)}", q)
            for c, q in sql.pg_write_guarded.items()
        }
        # The delete of an intent: its lock and reads (one round trip), its write.
        self.lock_of_oir = pg_batch.Statement("lock_of_oir", sql.pg_lock_of_oir)
        self.subscription_of_oir = pg_batch.Statement(
            "subscription_of_oir", sql.pg_subscription_of_oir
        )
        self.co_attached = pg_batch.Statement("co_attached", sql.pg_co_attached)
        self.delete = {
            c: pg_batch.Statement(f"delete_oir_{int(c)}", q) for c, q in sql.pg_delete.items()
        }
        self.event_and_subscribers = pg_batch.Statement(
            "event_and_subscribers", sql.pg_event_and_subscribers
        )


PG_BATCH = PgBatchSql(SQL["postgresql"])
