"""Repository of strategic coordination entities, used inside one transaction.

:class:`StrategicTx` reads and writes operational intents, constraints, subscriptions, USS
availability, reports and events; it holds no rules (those are in
:mod:`sharedsky.services.strategic`). Records are plain frozen dataclasses with UTC datetimes;
cell ids are signed 64-bit S2 ids (level :data:`sharedsky.geo.CELL_LEVEL`).

Concurrency: :meth:`StrategicTx.lock_area` takes PostgreSQL transaction-scoped advisory locks
on the level-:data:`sharedsky.geo.LOCK_LEVEL` parents of a covering, in ascending order (so two
writers never wait on each other in a cycle). Two entities that share a level-13 cell share its
parent, so writers whose areas meet serialise and the others run in parallel. On SQLite the
write transaction already holds the database write lock and the call does nothing.
:meth:`StrategicTx.oir_write_attempt` tries the same locks without waiting (never a cycle
either); :meth:`StrategicTx.write_oir_guarded` takes them in ascending order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from psycopg.pq import TransactionStatus
from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    bindparam,
    delete,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.sql.elements import TextClause

from sharedsky.geo import LOCK_LEVEL, parent_cells
from sharedsky.store import pg_batch
from sharedsky.store import tables as t

__all__ = [
    "AvailabilityRecord",
    "ConstraintRecord",
    "EventRecord",
    "OirContext",
    "OirRecord",
    "StrategicTx",
    "SubscriptionRecord",
    "from_us",
    "to_us",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LOCK_SQL = text(
    "SELECT count(pg_advisory_xact_lock(u.k)) FROM unnest(CAST(:keys AS bigint[])) AS u(k)"
)
_TRY_LOCK_SQL = text(
    "SELECT bool_and(pg_try_advisory_xact_lock(u.k)) FROM unnest(CAST(:keys AS bigint[])) AS u(k)"
)
_CHUNK = 4000  # cells per IN list (well under SQLite's and PostgreSQL's parameter limits)
_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1
_INF = float("inf")


# -- the hot path of intent writes and queries: statements written once, per dialect ------------
#
# A set of cells is ONE parameter: a bigint[] on PostgreSQL, a JSON array (json_each) on SQLite.
# Each statement is built at import; SQLAlchemy compiles it once and psycopg prepares it on the
# server after a few executions on a connection.

_OIR_COLS = (
    "o.id, o.manager, o.version, o.state, o.ovn, o.uss_base_url, o.subscription_id, "
    "o.altitude_lower_m, o.altitude_upper_m, o.start_us, o.end_us, o.updated_us"
)
_NULL_OIR_COLS = ", ".join(["NULL"] * 12)


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


def _oir_overlap_sql(dialect: str) -> str:
    """Intents sharing a cell with ``:cells`` that overlap ``:lo..:hi`` and ``:start..:end``,
    each with its manager's availability."""
    return (
        f"SELECT 1 AS kind, {_OIR_COLS}, NULL AS cells, a.availability AS availability "
        f"FROM {_ids_in_cells(dialect, 'operational_intent_cells', 'entity_id', 'cells')} "
        "JOIN operational_intents o ON o.id = hit.id "
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
            "ARRAY(SELECT c.cell FROM operational_intent_cells c WHERE c.entity_id = o.id "
            "ORDER BY c.cell)"
        )
        null_cells = "CAST(NULL AS bigint[])"
    else:
        cells = (
            "(SELECT json_group_array(c.cell) FROM operational_intent_cells c "
            "WHERE c.entity_id = o.id)"
        )
        null_cells = "NULL"
    parts = [
        f"SELECT 0 AS kind, {_OIR_COLS}, {cells} AS cells, NULL AS availability "
        "FROM operational_intents o WHERE o.id = :id"
    ]
    if conflicts:
        parts.append(_oir_overlap_sql(dialect).replace("NULL AS cells", f"{null_cells}", 1))
    parts.append(
        f"SELECT 2, {_NULL_OIR_COLS}, {null_cells}, availability FROM uss_availability "
        "WHERE uss = :me"
    )
    return " UNION ALL ".join(parts)


def _oir_context_sql(dialect: str, conflicts: bool) -> TextClause:
    return text(_oir_context(dialect, conflicts))


# PostgreSQL: a fingerprint of what an intent write decides on, one text per row of its context
# (with conflicts): the row's kind, id, version, state, OVN, subscription, times, cells (the
# intent's own) and availability. :func:`_fingerprint` makes the same texts from rows read
# earlier, and a guarded write compares the two (sorted bytewise: COLLATE "C").
_FINGERPRINT_COLUMNS = (
    "kind", "id", "version", "state", "ovn", "subscription_id", "start_us", "end_us",
    "updated_us", "cells", "availability",
)  # fmt: skip
_FINGERPRINT_ROW = (0, 1, 3, 4, 5, 7, 10, 11, 12, 13, 14)  # their positions in a context row
_PG_CONTEXT_FINGERPRINT = (
    "SELECT array_agg(f ORDER BY f COLLATE \"C\") FROM (SELECT concat_ws('|', "
    + ", ".join(f"coalesce(CAST(ctx.{c} AS text), '~')" for c in _FINGERPRINT_COLUMNS)
    + f") AS f FROM ({_oir_context('postgresql', True)}) ctx) fp"
)


def _fingerprint(rows: Iterable[Any]) -> list[str] | None:
    """The texts of :data:`_PG_CONTEXT_FINGERPRINT` for context rows already read (None for
    none: ``array_agg`` of no rows is NULL)."""
    texts = []
    for r in rows:
        parts = []
        for i in _FINGERPRINT_ROW:
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


_OIR_VALUES = (
    ":manager, :version, :state, :ovn, :uss_base_url, :subscription_id, "
    ":altitude_lower_m, :altitude_upper_m, :start_us, :end_us, :updated_us"
)
_OIR_INSERT = (
    "INSERT INTO operational_intents (id, manager, version, state, ovn, uss_base_url, "
    "subscription_id, altitude_lower_m, altitude_upper_m, start_us, end_us, updated_us) "
    f"VALUES (:id, {_OIR_VALUES})"
)
_OIR_UPDATE = (
    "UPDATE operational_intents SET manager = :manager, version = :version, state = :state, "
    "ovn = :ovn, uss_base_url = :uss_base_url, subscription_id = :subscription_id, "
    "altitude_lower_m = :altitude_lower_m, altitude_upper_m = :altitude_upper_m, "
    "start_us = :start_us, end_us = :end_us, updated_us = :updated_us WHERE id = :id"
)
_EVENT_INSERT = (
    "INSERT INTO events (time, actor, operation, entity_type, entity_id, payload) "
    "VALUES (:time, :actor, :operation, :entity_type, :id, {payload})"
)


def _typed(sql: str) -> TextClause:
    return text(sql).bindparams(
        bindparam("time", type_=t.events.c.time.type),
        bindparam("payload", type_=t.events.c.payload.type),
    )


def _pg_oir_write(create: bool) -> TextClause:
    """PostgreSQL: the whole write of an intent in one statement (one round trip): the row,
    the cells that go and come, the event, and the subscriptions to notify."""
    row = _OIR_INSERT if create else _OIR_UPDATE
    return _typed(
        f"WITH w AS ({row} RETURNING id), "
        "d AS (DELETE FROM operational_intent_cells WHERE entity_id = :id "
        "AND cell = ANY(CAST(:gone AS bigint[]))), "
        "i AS (INSERT INTO operational_intent_cells (cell, entity_id) "
        "SELECT x, :id FROM unnest(CAST(:added AS bigint[])) AS x), "
        f"e AS ({_EVENT_INSERT.format(payload='CAST(:payload AS json)')}) "
        + _subscribers_sql("postgresql")
    )


def _pg_oir_write_guarded(create: bool) -> TextClause:
    """PostgreSQL: :func:`_pg_oir_write` only if the context of the write (its fingerprint,
    :data:`_PG_CONTEXT_FINGERPRINT`) is still ``:expected``, evaluated on the statement's own
    snapshot (taken after the area lock). Returns a row of kind 0 if it wrote, and the
    subscriptions to notify (kind 1); no rows if the context had changed (nothing written)."""
    unchanged = f"(({_PG_CONTEXT_FINGERPRINT}) IS NOT DISTINCT FROM CAST(:expected AS text[]))"
    if create:
        row = (
            "INSERT INTO operational_intents (id, manager, version, state, ovn, uss_base_url, "
            "subscription_id, altitude_lower_m, altitude_upper_m, start_us, end_us, updated_us) "
            # :id is compared with varchar columns elsewhere in the statement: one type.
            f"SELECT CAST(:id AS varchar), {_OIR_VALUES} WHERE {unchanged}"
        )
    else:
        row = f"{_OIR_UPDATE} AND {unchanged}"
    written = "EXISTS (SELECT 1 FROM w)"
    event = _EVENT_INSERT.format(payload="CAST(:payload AS json)").replace(
        "VALUES (:time, :actor, :operation, :entity_type, :id, CAST(:payload AS json))",
        "SELECT :time, :actor, :operation, :entity_type, :id, CAST(:payload AS json) "
        f"WHERE {written}",
    )
    return _typed(
        f"WITH w AS ({row} RETURNING id), "
        "d AS (DELETE FROM operational_intent_cells WHERE entity_id = :id "
        f"AND cell = ANY(CAST(:gone AS bigint[])) AND {written}), "
        "i AS (INSERT INTO operational_intent_cells (cell, entity_id) "
        f"SELECT x, :id FROM unnest(CAST(:added AS bigint[])) AS x WHERE {written}), "
        f"e AS ({event}) "
        "SELECT 0 AS kind, NULL AS id, NULL AS uss_base_url FROM w UNION ALL "
        f"SELECT 1, s.id, s.uss_base_url FROM ({_subscribers_sql('postgresql')}) s "
        f"WHERE {written}"
    )


class _Sql:
    """The hot-path statements of one dialect."""

    def __init__(self, dialect: str) -> None:
        self.query_oirs = text(_oir_overlap_sql(dialect))
        self.context = {c: _oir_context_sql(dialect, c) for c in (False, True)}
        self.subscribers = text(_subscribers_sql(dialect))
        if dialect == "postgresql":
            self.pg_write = {c: _pg_oir_write(c) for c in (False, True)}
            self.pg_write_guarded = {c: _pg_oir_write_guarded(c) for c in (False, True)}
        self.insert = text(_OIR_INSERT)
        self.update = text(_OIR_UPDATE)
        self.del_cells = text(
            "DELETE FROM operational_intent_cells WHERE entity_id = :id "
            f"AND cell {_in_cells(dialect, 'gone')}"
        )
        self.add_cells = text(
            "INSERT INTO operational_intent_cells (cell, entity_id) "
            "SELECT value, :id FROM json_each(:added)"
        )
        self.event = _typed(_EVENT_INSERT.format(payload=":payload"))


_SQL = {d: _Sql(d) for d in ("postgresql", "sqlite")}

_PQ_IDLE = TransactionStatus.IDLE


class _PgBatchSql:
    """The hot path's statements for :func:`sharedsky.store.pg_batch.run`: the area query, the
    locks, the write context and the intent writes. Each round trip (a lock and the read behind
    it, a write and its COMMIT) is sent in one write on the psycopg connection underneath the
    SQLAlchemy transaction (same connection, same transaction): SQLAlchemy's per-execution work
    (result metadata, bind processing, the execution context) costs more CPU than the rest."""

    def __init__(self, sql: _Sql) -> None:
        self.query_oirs = pg_batch.Statement("query_oirs", sql.query_oirs)
        self.lock = pg_batch.Statement("lock", _LOCK_SQL)
        self.try_lock = pg_batch.Statement("try_lock", _TRY_LOCK_SQL)
        self.context = {
            c: pg_batch.Statement(f"context_{int(c)}", q) for c, q in sql.context.items()
        }
        self.write = {c: pg_batch.Statement(f"write_{int(c)}", q) for c, q in sql.pg_write.items()}
        self.write_guarded = {
            c: pg_batch.Statement(f"write_guarded_{int(c)}", q)
            for c, q in sql.pg_write_guarded.items()
        }


_PG_BATCH = _PgBatchSql(_SQL["postgresql"])


def _oir_columns(record: OirRecord) -> dict[str, Any]:
    """The columns of an intent's row other than its id, by name."""
    return {
        "manager": record.manager,
        "version": record.version,
        "state": record.state,
        "ovn": record.ovn,
        "uss_base_url": record.uss_base_url,
        "subscription_id": record.subscription_id,
        "altitude_lower_m": record.altitude_lower_m,
        "altitude_upper_m": record.altitude_upper_m,
        "start_us": to_us(record.time_start),
        "end_us": to_us(record.time_end),
        "updated_us": to_us(record.updated),
    }


def to_us(value: datetime) -> int:
    """UTC-aware datetime -> integer microseconds since the Unix epoch."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    """Inverse of :func:`to_us`."""
    return _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True, slots=True)
class OirContext:
    """What :meth:`StrategicTx.oir_write_attempt` read without the area locks, as its
    statement's parameters and the fingerprint of its rows, for
    :meth:`StrategicTx.write_oir_guarded` to check."""

    params: dict[str, Any]
    expected: list[str] | None


@dataclass(frozen=True, slots=True)
class OirRecord:
    """A stored operational intent reference. ``cells`` is filled only when asked for."""

    id: str
    manager: str
    version: int
    state: str
    ovn: str
    uss_base_url: str
    subscription_id: str | None
    altitude_lower_m: float
    altitude_upper_m: float
    time_start: datetime
    time_end: datetime
    updated: datetime
    cells: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class ConstraintRecord:
    """A stored constraint reference. ``cells`` is filled only when asked for."""

    id: str
    manager: str
    version: int
    ovn: str
    uss_base_url: str
    altitude_lower_m: float
    altitude_upper_m: float
    time_start: datetime
    time_end: datetime
    updated: datetime
    cells: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """A stored subscription. ``cells`` is filled only when asked for."""

    id: str
    manager: str
    version: str
    notification_index: int
    uss_base_url: str
    notify_for_operational_intents: bool
    notify_for_constraints: bool
    implicit: bool
    altitude_lower_m: float | None
    altitude_upper_m: float | None
    time_start: datetime
    time_end: datetime
    updated: datetime
    cells: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class AvailabilityRecord:
    uss: str
    availability: str
    version: str
    updated: datetime


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One row of the append-only event log."""

    id: int
    time: datetime
    actor: str
    operation: str
    entity_type: str
    entity_id: str
    payload: dict[str, Any]


def _chunks(cells: Iterable[int]) -> list[list[int]]:
    ordered = sorted(set(cells))
    return [ordered[i : i + _CHUNK] for i in range(0, len(ordered), _CHUNK)]


class StrategicTx:
    """Reads and writes of one transaction; obtain from ``Store.read()`` / ``Store.write()``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._pg = conn.dialect.name == "postgresql"
        self._sql = _SQL["postgresql" if self._pg else "sqlite"]
        # psycopg connection under the SQLAlchemy one (PostgreSQL): see _PgBatchSql.
        self._driver: Any = conn.connection.driver_connection if self._pg else None

    def _cells_param(self, cells: Iterable[int]) -> str:
        """A set of cell ids as ONE statement parameter: an array literal that the statement
        casts to ``bigint[]`` (PostgreSQL; cheaper for the driver than adapting a list) or a
        JSON array (SQLite)."""
        ordered = sorted(set(cells))
        if self._pg:
            return "{" + ",".join(map(str, ordered)) + "}"
        return orjson.dumps(ordered).decode()

    # -- locking ---------------------------------------------------------------------------

    def lock_area(self, cells: Iterable[int]) -> list[int]:
        """Serialise with every other writer whose area shares a coarse cell with ``cells``.

        Returns the coarse cells locked (ascending). Call it once per transaction, first.
        """
        parents = parent_cells(cells, LOCK_LEVEL)
        if self._pg and parents:
            # One statement, keys in ascending order: unnest yields them in array order.
            self._conn.execute(_LOCK_SQL, {"keys": self._cells_param(parents)})
        return parents

    def try_lock_more(self, parents: Iterable[int]) -> bool:
        """Take more coarse-cell locks (``parents``, level-LOCK_LEVEL ids) without waiting.

        For a writer that already holds locks and learns that it needs more: waiting for them
        out of ascending order could deadlock, so it takes them only if they are free and
        otherwise returns False (then roll back and retry with every lock taken in order).
        Always True on SQLite.
        """
        keys = sorted(set(parents))
        if not self._pg or not keys:
            return True
        return bool(self._conn.execute(_TRY_LOCK_SQL, {"keys": self._cells_param(keys)}).scalar())

    # -- shared helpers --------------------------------------------------------------------

    def _cells_of(self, cell_table: Table, fk: str, entity_id: str) -> frozenset[int]:
        col = cell_table.c[fk]
        rows = self._conn.execute(select(cell_table.c.cell).where(col == entity_id))
        return frozenset(r[0] for r in rows)

    def _replace_cells(
        self, cell_table: Table, fk: str, entity_id: str, new: frozenset[int], old: frozenset[int]
    ) -> None:
        gone = old - new
        added = new - old
        col = cell_table.c[fk]
        for chunk in _chunks(gone):
            self._conn.execute(
                delete(cell_table).where(col == entity_id, cell_table.c.cell.in_(chunk))
            )
        if added:
            self._conn.execute(
                insert(cell_table), [{"cell": c, fk: entity_id} for c in sorted(added)]
            )

    @staticmethod
    def _ids_in_cells(cell_table: Table, fk: str, chunk: list[int]) -> Any:
        # The distinct entities in the cells, to join the entity table to (see _ids_in_cells
        # at the top of the module: the cells' primary key then drives every plan).
        return (
            select(cell_table.c[fk].label("id"))
            .where(cell_table.c.cell.in_(chunk))
            .distinct()
            .subquery("hit")
        )

    def _find(
        self,
        table: Table,
        cell_table: Table,
        fk: str,
        cells: Iterable[int],
        conditions: Sequence[ColumnElement[bool]],
    ) -> list[Any]:
        found: dict[str, Any] = {}
        for chunk in _chunks(cells):
            hit = self._ids_in_cells(cell_table, fk, chunk)
            stmt = select(table).join(hit, table.c.id == hit.c.id).where(*conditions)
            for row in self._conn.execute(stmt):
                found[row.id] = row
        return [found[k] for k in sorted(found)]

    @staticmethod
    def _overlap(
        table: Table,
        altitude_lower_m: float | None,
        altitude_upper_m: float | None,
        start: datetime | None,
        end: datetime | None,
    ) -> list[ColumnElement[bool]]:
        cond: list[ColumnElement[bool]] = []
        if altitude_lower_m is not None:
            cond.append(table.c.altitude_upper_m >= altitude_lower_m)
        if altitude_upper_m is not None:
            cond.append(table.c.altitude_lower_m <= altitude_upper_m)
        if start is not None:
            cond.append(table.c.end_us >= to_us(start))
        if end is not None:
            cond.append(table.c.start_us <= to_us(end))
        return cond

    # -- operational intents ---------------------------------------------------------------

    @staticmethod
    def _oir(row: Any, cells: frozenset[int] = frozenset()) -> OirRecord:
        return OirRecord(
            id=row.id,
            manager=row.manager,
            version=row.version,
            state=row.state,
            ovn=row.ovn,
            uss_base_url=row.uss_base_url,
            subscription_id=row.subscription_id,
            altitude_lower_m=row.altitude_lower_m,
            altitude_upper_m=row.altitude_upper_m,
            time_start=from_us(row.start_us),
            time_end=from_us(row.end_us),
            updated=from_us(row.updated_us),
            cells=cells,
        )

    def get_oir(
        self, entity_id: str, *, for_update: bool = False, with_cells: bool = False
    ) -> OirRecord | None:
        """The intent ``entity_id`` (row-locked with ``for_update`` on PostgreSQL), or None."""
        stmt = select(t.oirs).where(t.oirs.c.id == entity_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self._conn.execute(stmt).one_or_none()
        if row is None:
            return None
        cells = self._cells_of(t.oir_cells, "entity_id", entity_id) if with_cells else frozenset()
        return self._oir(row, cells)

    def find_oirs(
        self,
        cells: Iterable[int],
        altitude_lower_m: float | None = None,
        altitude_upper_m: float | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[OirRecord]:
        """Intents sharing a cell with ``cells`` whose altitude and time ranges overlap the
        given bounds (``None`` = unbounded); ordered by id."""
        cond = self._overlap(t.oirs, altitude_lower_m, altitude_upper_m, start, end)
        rows = self._find(t.oirs, t.oir_cells, "entity_id", cells, cond)
        return [self._oir(r) for r in rows]

    @staticmethod
    def _bounds(
        lo: float | None, hi: float | None, start: datetime | None, end: datetime | None
    ) -> dict[str, Any]:
        return {
            "lo": -_INF if lo is None else lo,
            "hi": _INF if hi is None else hi,
            "start": _I64_MIN if start is None else to_us(start),
            "end": _I64_MAX if end is None else to_us(end),
        }

    def find_oirs_with_availability(
        self,
        cells: Iterable[int],
        altitude_lower_m: float | None = None,
        altitude_upper_m: float | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[tuple[OirRecord, str | None]]:
        """As :meth:`find_oirs`, each intent with its manager's availability (None if never
        set), in one statement."""
        params = self._bounds(altitude_lower_m, altitude_upper_m, start, end)
        params["cells"] = self._cells_param(cells)
        rows: list[Any]
        if self._pg:
            rows = pg_batch.run(self._driver, [(_PG_BATCH.query_oirs, params)])[0]
        else:
            rows = list(self._conn.execute(self._sql.query_oirs, params).all())
        rows.sort(key=lambda r: r[1])
        return [(self._oir_row(r), r[14]) for r in rows]

    @staticmethod
    def _oir_row(r: Any, cells: frozenset[int] = frozenset()) -> OirRecord:
        # Positional: kind, then the 12 columns of _OIR_COLS.
        return OirRecord(
            id=r[1],
            manager=r[2],
            version=r[3],
            state=r[4],
            ovn=r[5],
            uss_base_url=r[6],
            subscription_id=r[7],
            altitude_lower_m=r[8],
            altitude_upper_m=r[9],
            time_start=from_us(r[10]),
            time_end=from_us(r[11]),
            updated=from_us(r[12]),
            cells=cells,
        )

    def oir_write_context(
        self,
        entity_id: str,
        manager: str,
        cells: Iterable[int] | None = None,
        altitude_lower_m: float | None = None,
        altitude_upper_m: float | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        lock: Iterable[int] | None = None,
    ) -> tuple[OirRecord | None, list[tuple[OirRecord, str | None]], str | None]:
        """What an intent write reads once its area is locked, in one statement.

        Returns the intent ``entity_id`` with its cells (or None); when ``cells`` is given,
        the other intents that intersect (cells, altitude, time) with their managers'
        availability, ordered by id; and the availability of ``manager`` (None if never set).

        ``lock``: cells to :meth:`lock_area` first, as the first statement of the transaction;
        on PostgreSQL the lock and the read travel in one round trip (pipeline), the read
        running (with its own READ COMMITTED snapshot) once the lock is held.
        """
        params: dict[str, Any] = {"id": entity_id, "me": manager}
        if cells is not None:
            params |= self._bounds(altitude_lower_m, altitude_upper_m, start, end)
            params["cells"] = self._cells_param(cells)
        rows: Sequence[Any]
        if self._pg:
            parents = parent_cells(lock, LOCK_LEVEL) if lock is not None else []
            driver = self._driver
            # psycopg opens a transaction with a BEGIN of its own round trip, even in pipeline
            # mode. When this read opens the transaction, BEGIN travels with it instead: the
            # connection goes to autocommit (so psycopg adds nothing) and the pipeline starts
            # with an explicit BEGIN; every later statement of the transaction then runs inside
            # that block. ``Store`` turns autocommit off again when the transaction has ended.
            begin = not driver.autocommit and driver.pgconn.transaction_status == _PQ_IDLE
            if begin:
                driver.autocommit = True
            steps: list[pg_batch.Step] = [pg_batch.BEGIN] if begin else []
            if parents:
                steps.append((_PG_BATCH.lock, {"keys": self._cells_param(parents)}))
            steps.append((_PG_BATCH.context[cells is not None], params))
            rows = pg_batch.run(driver, steps)[-1]
        else:
            if lock is not None:
                self.lock_area(lock)
            rows = self._conn.execute(self._sql.context[cells is not None], params).all()
        return self._context_rows(rows, entity_id)

    def _context_rows(
        self, rows: Iterable[Any], entity_id: str
    ) -> tuple[OirRecord | None, list[tuple[OirRecord, str | None]], str | None]:
        old: OirRecord | None = None
        found: list[tuple[OirRecord, str | None]] = []
        mine: str | None = None
        for r in rows:
            kind = r[0]
            if kind == 0:
                raw = r[13]
                own = raw if self._pg else orjson.loads(raw) if raw else ()
                old = self._oir_row(r, frozenset(own or ()))
            elif kind == 1:
                if r[1] != entity_id:
                    found.append((self._oir_row(r), r[14]))
            elif kind == 2:
                mine = r[14]
        found.sort(key=lambda x: x[0].id)
        return old, found, mine

    def oir_write_attempt(
        self,
        entity_id: str,
        manager: str,
        cells: Iterable[int],
        altitude_lower_m: float,
        altitude_upper_m: float,
        start: datetime,
        end: datetime,
    ) -> tuple[OirRecord | None, list[tuple[OirRecord, str | None]], str | None, OirContext | None]:
        """PostgreSQL, as the first call of a transaction: :meth:`oir_write_context` with the
        conflicts of ``cells``, whose area locks are taken only if they are free (no wait).

        Returns what was read and None if the locks were taken (the read ran under them: go on
        with :meth:`write_oir`); else the read is a snapshot taken without them, and the
        returned :class:`OirContext` lets :meth:`write_oir_guarded` write only if all of it is
        still so once the locks are its own."""
        if not self._pg:
            raise NotImplementedError("a guarded write needs PostgreSQL")
        params = self._bounds(altitude_lower_m, altitude_upper_m, start, end)
        params |= {"id": entity_id, "me": manager, "cells": self._cells_param(cells)}
        driver = self._driver
        if driver.autocommit or driver.pgconn.transaction_status != _PQ_IDLE:
            raise RuntimeError("oir_write_attempt must open the transaction")
        # An explicit BEGIN rides with the lock and the read (see oir_write_context).
        driver.autocommit = True
        _, locked, rows = pg_batch.run(
            driver,
            [
                pg_batch.BEGIN,
                (_PG_BATCH.try_lock, {"keys": self._cells_param(parent_cells(cells, LOCK_LEVEL))}),
                (_PG_BATCH.context[True], params),
            ],
        )
        got_locks = bool(locked[0][0])
        old, found, mine = self._context_rows(rows, entity_id)
        if got_locks:
            return old, found, mine, None
        return old, found, mine, OirContext(params, _fingerprint(rows))

    def write_oir(
        self,
        record: OirRecord,
        old: OirRecord | None,
        event: tuple[datetime, str, str, dict[str, Any]],
        notify: tuple[frozenset[int], datetime, datetime, datetime],
        *,
        commit: bool = False,
    ) -> list[tuple[str, str]]:
        """Insert (``old`` None) or update an intent with its cells, append its event
        ``(time, actor, operation, payload)``, and return the subscriptions to notify
        ``(id, uss_base_url)`` by id: those for intents sharing a cell with ``notify[0]``,
        overlapping ``notify[1]..notify[2]`` and not ended at ``notify[3]``.

        One statement on PostgreSQL; ``old`` must carry its cells. With ``commit`` the
        transaction is committed right behind it, in the same round trip on PostgreSQL (so the
        area lock is released one round trip sooner): the last call of the transaction."""
        params = self._write_params(record, old, event, notify)
        old_cells = old.cells if old is not None else frozenset()
        sql = self._sql
        rows: Sequence[Any]
        if self._pg:
            driver = self._driver
            # A transaction that began with an explicit BEGIN (oir_write_context) ends with an
            # explicit COMMIT that travels with the write, where commit() would take a round
            # trip of its own; one that psycopg began is committed by psycopg.
            explicit_commit = commit and driver.autocommit
            steps: list[pg_batch.Step] = [(_PG_BATCH.write[old is None], params)]
            if explicit_commit:
                steps.append(pg_batch.COMMIT)
            rows = pg_batch.run(driver, steps)[0]
            if commit and not explicit_commit:
                driver.commit()
        else:
            self._conn.execute(sql.insert if old is None else sql.update, params)
            if old_cells - record.cells:
                self._conn.execute(sql.del_cells, params)
            if record.cells - old_cells:
                self._conn.execute(sql.add_cells, params)
            self._conn.execute(sql.event, params)
            rows = self._conn.execute(sql.subscribers, params).all()
        return [(r[0], r[1]) for r in rows]

    def write_oir_guarded(
        self,
        record: OirRecord,
        old: OirRecord | None,
        event: tuple[datetime, str, str, dict[str, Any]],
        notify: tuple[frozenset[int], datetime, datetime, datetime],
        context: OirContext,
    ) -> list[tuple[str, str]] | None:
        """PostgreSQL, after :meth:`oir_write_attempt` found the area busy: end that
        transaction, then in a new one take the area locks of ``record`` and ``old`` (waiting,
        in order), write as :meth:`write_oir` only if the write's context is still what the
        attempt read (``context``), and commit; one round trip, so the locks are held for the
        database's own work only. Returns the subscriptions to notify, or None if the context
        had changed (nothing was written: decide again, under the lock)."""
        driver = self._driver
        if not self._pg or not driver.autocommit:
            raise RuntimeError("write_oir_guarded follows oir_write_attempt")
        params = self._write_params(record, old, event, notify)
        params |= context.params
        params["expected"] = context.expected
        parents = parent_cells(record.cells | (old.cells if old else frozenset()), LOCK_LEVEL)
        # The attempt's transaction (it only read) ends with COMMIT, releasing any lock it got.
        rows = pg_batch.run(
            driver,
            [
                pg_batch.COMMIT,
                pg_batch.BEGIN,
                (_PG_BATCH.lock, {"keys": self._cells_param(parents)}),
                (_PG_BATCH.write_guarded[old is None], params),
                pg_batch.COMMIT,
            ],
        )[3]
        if not any(r[0] == 0 for r in rows):
            return None
        return sorted((r[1], r[2]) for r in rows if r[0] == 1)

    def _write_params(
        self,
        record: OirRecord,
        old: OirRecord | None,
        event: tuple[datetime, str, str, dict[str, Any]],
        notify: tuple[frozenset[int], datetime, datetime, datetime],
    ) -> dict[str, Any]:
        old_cells = old.cells if old is not None else frozenset()
        time, actor, operation, payload = event
        n_cells, n_start, n_end, now = notify
        params: dict[str, Any] = {
            "id": record.id,
            **_oir_columns(record),
            "gone": self._cells_param(old_cells - record.cells),
            "added": self._cells_param(record.cells - old_cells),
            "time": time,
            "actor": actor,
            "operation": operation,
            "entity_type": "operational_intent_reference",
            "payload": payload,
            "notify": self._cells_param(n_cells),
            "n_start": to_us(n_start),
            "n_end": to_us(n_end),
            "now": to_us(now),
            "true": True,
        }
        if self._pg:
            params["payload"] = orjson.dumps(payload).decode()
        return params

    def oirs_of_subscription(self, subscription_id: str) -> list[OirRecord]:
        """The intents attached to a subscription, with their cells."""
        rows = self._conn.execute(
            select(t.oirs).where(t.oirs.c.subscription_id == subscription_id).order_by(t.oirs.c.id)
        ).all()
        return [self._oir(r, self._cells_of(t.oir_cells, "entity_id", r.id)) for r in rows]

    def oir_ids_of_subscription(self, subscription_id: str) -> list[str]:
        """The ids of the intents attached to a subscription, sorted."""
        rows = self._conn.execute(
            select(t.oirs.c.id)
            .where(t.oirs.c.subscription_id == subscription_id)
            .order_by(t.oirs.c.id)
        )
        return [r[0] for r in rows]

    def save_oir(self, record: OirRecord, old: OirRecord | None) -> None:
        """Insert (``old`` None) or update an intent and its cells; ``old`` must carry cells."""
        values = _oir_columns(record)
        if old is None:
            self._conn.execute(insert(t.oirs).values(id=record.id, **values))
            old_cells: frozenset[int] = frozenset()
        else:
            self._conn.execute(update(t.oirs).where(t.oirs.c.id == record.id).values(**values))
            old_cells = old.cells
        self._replace_cells(t.oir_cells, "entity_id", record.id, record.cells, old_cells)

    def delete_oir(self, entity_id: str) -> None:
        self._conn.execute(delete(t.oir_cells).where(t.oir_cells.c.entity_id == entity_id))
        self._conn.execute(delete(t.oirs).where(t.oirs.c.id == entity_id))

    # -- constraints -----------------------------------------------------------------------

    @staticmethod
    def _constraint(row: Any, cells: frozenset[int] = frozenset()) -> ConstraintRecord:
        return ConstraintRecord(
            id=row.id,
            manager=row.manager,
            version=row.version,
            ovn=row.ovn,
            uss_base_url=row.uss_base_url,
            altitude_lower_m=row.altitude_lower_m,
            altitude_upper_m=row.altitude_upper_m,
            time_start=from_us(row.start_us),
            time_end=from_us(row.end_us),
            updated=from_us(row.updated_us),
            cells=cells,
        )

    def get_constraint(
        self, entity_id: str, *, for_update: bool = False, with_cells: bool = False
    ) -> ConstraintRecord | None:
        stmt = select(t.constraints).where(t.constraints.c.id == entity_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self._conn.execute(stmt).one_or_none()
        if row is None:
            return None
        cells = (
            self._cells_of(t.constraint_cells, "entity_id", entity_id)
            if with_cells
            else frozenset()
        )
        return self._constraint(row, cells)

    def find_constraints(
        self,
        cells: Iterable[int],
        altitude_lower_m: float | None = None,
        altitude_upper_m: float | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[ConstraintRecord]:
        cond = self._overlap(t.constraints, altitude_lower_m, altitude_upper_m, start, end)
        rows = self._find(t.constraints, t.constraint_cells, "entity_id", cells, cond)
        return [self._constraint(r) for r in rows]

    def save_constraint(self, record: ConstraintRecord, old: ConstraintRecord | None) -> None:
        values = {
            "manager": record.manager,
            "version": record.version,
            "ovn": record.ovn,
            "uss_base_url": record.uss_base_url,
            "altitude_lower_m": record.altitude_lower_m,
            "altitude_upper_m": record.altitude_upper_m,
            "start_us": to_us(record.time_start),
            "end_us": to_us(record.time_end),
            "updated_us": to_us(record.updated),
        }
        if old is None:
            self._conn.execute(insert(t.constraints).values(id=record.id, **values))
            old_cells: frozenset[int] = frozenset()
        else:
            self._conn.execute(
                update(t.constraints).where(t.constraints.c.id == record.id).values(**values)
            )
            old_cells = old.cells
        self._replace_cells(t.constraint_cells, "entity_id", record.id, record.cells, old_cells)

    def delete_constraint(self, entity_id: str) -> None:
        self._conn.execute(
            delete(t.constraint_cells).where(t.constraint_cells.c.entity_id == entity_id)
        )
        self._conn.execute(delete(t.constraints).where(t.constraints.c.id == entity_id))

    # -- subscriptions ---------------------------------------------------------------------

    @staticmethod
    def _subscription(row: Any, cells: frozenset[int] = frozenset()) -> SubscriptionRecord:
        return SubscriptionRecord(
            id=row.id,
            manager=row.manager,
            version=row.version,
            notification_index=row.notification_index,
            uss_base_url=row.uss_base_url,
            notify_for_operational_intents=bool(row.notify_for_operational_intents),
            notify_for_constraints=bool(row.notify_for_constraints),
            implicit=bool(row.implicit),
            altitude_lower_m=row.altitude_lower_m,
            altitude_upper_m=row.altitude_upper_m,
            time_start=from_us(row.start_us),
            time_end=from_us(row.end_us),
            updated=from_us(row.updated_us),
            cells=cells,
        )

    def get_subscription(
        self, subscription_id: str, *, for_update: bool = False, with_cells: bool = False
    ) -> SubscriptionRecord | None:
        stmt = select(t.subscriptions).where(t.subscriptions.c.id == subscription_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self._conn.execute(stmt).one_or_none()
        if row is None:
            return None
        cells = (
            self._cells_of(t.subscription_cells, "subscription_id", subscription_id)
            if with_cells
            else frozenset()
        )
        return self._subscription(row, cells)

    def find_subscriptions(
        self,
        cells: Iterable[int],
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        manager: str | None = None,
        notify_for_operational_intents: bool | None = None,
        notify_for_constraints: bool | None = None,
        not_ended_before: datetime | None = None,
    ) -> list[SubscriptionRecord]:
        """Subscriptions sharing a cell with ``cells`` whose time range overlaps
        ``start..end``; altitude is not used (as in F3548's notification rule)."""
        s = t.subscriptions
        cond = self._overlap(s, None, None, start, end)
        if manager is not None:
            cond.append(s.c.manager == manager)
        if notify_for_operational_intents is not None:
            cond.append(s.c.notify_for_operational_intents == notify_for_operational_intents)
        if notify_for_constraints is not None:
            cond.append(s.c.notify_for_constraints == notify_for_constraints)
        if not_ended_before is not None:
            cond.append(s.c.end_us >= to_us(not_ended_before))
        rows = self._find(s, t.subscription_cells, "subscription_id", cells, cond)
        return [self._subscription(r) for r in rows]

    def save_subscription(self, record: SubscriptionRecord, old: SubscriptionRecord | None) -> None:
        """Insert (``old`` None) or update a subscription and its cells."""
        values = {
            "manager": record.manager,
            "version": record.version,
            "notification_index": record.notification_index,
            "uss_base_url": record.uss_base_url,
            "notify_for_operational_intents": record.notify_for_operational_intents,
            "notify_for_constraints": record.notify_for_constraints,
            "implicit": record.implicit,
            "altitude_lower_m": record.altitude_lower_m,
            "altitude_upper_m": record.altitude_upper_m,
            "start_us": to_us(record.time_start),
            "end_us": to_us(record.time_end),
            "updated_us": to_us(record.updated),
        }
        if old is None:
            self._conn.execute(insert(t.subscriptions).values(id=record.id, **values))
            old_cells: frozenset[int] = frozenset()
        else:
            self._conn.execute(
                update(t.subscriptions).where(t.subscriptions.c.id == record.id).values(**values)
            )
            old_cells = old.cells
        self._replace_cells(
            t.subscription_cells, "subscription_id", record.id, record.cells, old_cells
        )

    def delete_subscription(self, subscription_id: str) -> None:
        self._conn.execute(
            delete(t.subscription_cells).where(
                t.subscription_cells.c.subscription_id == subscription_id
            )
        )
        self._conn.execute(delete(t.subscriptions).where(t.subscriptions.c.id == subscription_id))

    # -- USS availability ------------------------------------------------------------------

    def get_availability(self, uss: str, *, for_update: bool = False) -> AvailabilityRecord | None:
        stmt = select(t.uss_availability).where(t.uss_availability.c.uss == uss)
        if for_update:
            stmt = stmt.with_for_update()
        row = self._conn.execute(stmt).one_or_none()
        if row is None:
            return None
        return AvailabilityRecord(row.uss, row.availability, row.version, from_us(row.updated_us))

    def availabilities(self, usss: Iterable[str]) -> dict[str, str]:
        """Availability per USS for those that have one set."""
        names = sorted(set(usss))
        if not names:
            return {}
        rows = self._conn.execute(
            select(t.uss_availability.c.uss, t.uss_availability.c.availability).where(
                t.uss_availability.c.uss.in_(names)
            )
        )
        return {r.uss: r.availability for r in rows}

    def save_availability(self, record: AvailabilityRecord, old: AvailabilityRecord | None) -> None:
        values = {
            "availability": record.availability,
            "version": record.version,
            "updated_us": to_us(record.updated),
        }
        if old is None:
            self._conn.execute(insert(t.uss_availability).values(uss=record.uss, **values))
        else:
            self._conn.execute(
                update(t.uss_availability)
                .where(t.uss_availability.c.uss == record.uss)
                .values(**values)
            )

    # -- reports and events ----------------------------------------------------------------

    def add_report(self, report_id: str, reporter: str, time: datetime, payload: Any) -> None:
        self._conn.execute(
            insert(t.reports).values(id=report_id, reporter=reporter, time=time, payload=payload)
        )

    def get_report(self, report_id: str) -> tuple[str, datetime, Any] | None:
        row = self._conn.execute(select(t.reports).where(t.reports.c.id == report_id)).one_or_none()
        if row is None:
            return None
        return row.reporter, _aware(row.time), row.payload

    def append_event(
        self,
        time: datetime,
        actor: str,
        operation: str,
        entity_type: str,
        entity_id: str,
        payload: dict[str, Any],
    ) -> None:
        """Append one row to the event log (never updated or deleted)."""
        self._conn.execute(
            insert(t.events).values(
                time=time,
                actor=actor,
                operation=operation,
                entity_type=entity_type,
                entity_id=entity_id,
                payload=payload,
            )
        )

    def events(
        self, entity_type: str | None = None, entity_id: str | None = None, after_id: int = 0
    ) -> list[EventRecord]:
        """Events in order of their id, optionally for one entity kind or entity."""
        e = t.events
        stmt = select(e).where(e.c.id > after_id).order_by(e.c.id)
        if entity_type is not None:
            stmt = stmt.where(e.c.entity_type == entity_type)
        if entity_id is not None:
            stmt = stmt.where(e.c.entity_id == entity_id)
        return [
            EventRecord(
                r.id, _aware(r.time), r.actor, r.operation, r.entity_type, r.entity_id, r.payload
            )
            for r in self._conn.execute(stmt)
        ]

    # -- live service reads (added for the live tactical service) ---------------------------

    def _with_all_cells(self, cell_table: Table, ids: list[str]) -> dict[str, set[int]]:
        cells: dict[str, set[int]] = {i: set() for i in ids}
        for k in range(0, len(ids), _CHUNK):
            chunk = ids[k : k + _CHUNK]
            stmt = select(cell_table.c.entity_id, cell_table.c.cell).where(
                cell_table.c.entity_id.in_(chunk)
            )
            for eid, cell in self._conn.execute(stmt):
                cells[eid].add(cell)
        return cells

    def append_events(
        self, rows: Sequence[tuple[datetime, str, str, str, str, dict[str, Any]]]
    ) -> None:
        """Append many rows ``(time, actor, operation, entity_type, entity_id, payload)`` to the
        event log in one statement (in order)."""
        if rows:
            self._conn.execute(
                insert(t.events),
                [
                    {
                        "time": time,
                        "actor": actor,
                        "operation": operation,
                        "entity_type": entity_type,
                        "entity_id": entity_id,
                        "payload": payload,
                    }
                    for time, actor, operation, entity_type, entity_id, payload in rows
                ],
            )

    def active_oirs(self, start: datetime, end: datetime) -> list[OirRecord]:
        """Every intent whose time range overlaps [start, end], with its cells; by id."""
        cond = self._overlap(t.oirs, None, None, start, end)
        rows = self._conn.execute(select(t.oirs).where(*cond).order_by(t.oirs.c.id)).all()
        cells = self._with_all_cells(t.oir_cells, [r.id for r in rows])
        return [self._oir(r, frozenset(cells[r.id])) for r in rows]

    def active_constraints(self, start: datetime, end: datetime) -> list[ConstraintRecord]:
        """Every constraint whose time range overlaps [start, end], with its cells; by id."""
        c = t.constraints
        cond = self._overlap(c, None, None, start, end)
        rows = self._conn.execute(select(c).where(*cond).order_by(c.c.id)).all()
        cells = self._with_all_cells(t.constraint_cells, [r.id for r in rows])
        return [self._constraint(r, frozenset(cells[r.id])) for r in rows]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
