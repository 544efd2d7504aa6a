"""Repository of strategic coordination entities, used inside one transaction.

:class:`StrategicTx` reads and writes operational intents, constraints, subscriptions, USS
availability, reports and events; it holds no rules (those are in
:mod:`sharedsky.services.strategic`). Records (:mod:`sharedsky.store.records`) are plain frozen
dataclasses with UTC datetimes; cell ids are signed 64-bit S2 ids (level
:data:`sharedsky.geo.CELL_LEVEL`). Events enter the record through
:mod:`sharedsky.store.events` only; the hot path's statements are in
:mod:`sharedsky.store.intent_sql`.

Concurrency: :meth:`StrategicTx.lock_area` takes PostgreSQL transaction-scoped advisory locks
on the level-:data:`sharedsky.geo.LOCK_LEVEL` parents of a covering, in ascending order (so two
writers never wait on each other in a cycle). Two entities that share a level-13 cell share its
parent, so writers whose areas meet serialise and the others run in parallel. On SQLite the
write transaction already holds the database write lock and the call does nothing.
:meth:`StrategicTx.oir_write_attempt` tries the same locks without waiting (never a cycle
either); :meth:`StrategicTx.write_oir_guarded` takes them in ascending order.
:meth:`StrategicTx.write_unsubscribed_oir` chooses between those and the plain locked write by
backend, for a write that its caller decides. The delete of an intent locks the area the intent
covers, which only the database knows: :meth:`StrategicTx.oir_delete_context` has the server
compute the keys from the intent's cells (ascending, one statement) and reads again under them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from psycopg.pq import TransactionStatus
from sqlalchemy import ColumnElement, Connection, Table, delete, insert, select, update

from sharedsky.geo import LOCK_LEVEL, parent_cells
from sharedsky.model.events import Event, RecordedEvent
from sharedsky.store import events as record_table
from sharedsky.store import pg_batch
from sharedsky.store import tables as t
from sharedsky.store.intent_sql import (
    AVAILABILITY,
    CELLS,
    ID,
    KIND,
    LOCK_SQL,
    PG_BATCH,
    SQL,
    SUBSCRIPTION_COLUMNS,
    TRY_LOCK_SQL,
    fingerprint,
    oir_of_context,
)
from sharedsky.store.records import (
    AvailabilityRecord,
    ConstraintRecord,
    OirContext,
    OirRecord,
    SubscriptionRecord,
    constraint_record,
    from_us,
    oir_columns,
    oir_record,
    subscription_record,
    to_us,
)

__all__ = ["OirDeleteRead", "OirRead", "OirWrite", "StrategicTx"]

T = TypeVar("T")

OirDeleteRead = tuple[OirRecord | None, str | None, SubscriptionRecord | None, list[str]]
"""What the delete of an intent reads under its area's lock: the intent (with its cells) or
None, the writer's availability, the intent's subscription (row-locked, without its cells) or
None, and the other intents attached to that subscription (ids, sorted)."""

OirRead = tuple[OirRecord | None, list[tuple[OirRecord, str | None]], str | None]
"""What an intent write reads: the intent (with its cells) or None, the other intents that
intersect it with their managers' availability (by id), and the writer's availability."""

_PQ_IDLE = TransactionStatus.IDLE


@dataclass(frozen=True, slots=True)
class OirWrite:
    """A decided intent write: the intent as it will be (``record``, with its cells), as it
    is (``old``, with its cells, or None for a create), its event, and where and when
    subscribers hear of it (``notify``: cells, start, end, and now for expired ones)."""

    record: OirRecord
    old: OirRecord | None
    event: Event
    notify: tuple[frozenset[int], datetime, datetime, datetime]


_CHUNK = 4000  # cells per IN list (well under SQLite's and PostgreSQL's parameter limits)
_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1
_INF = float("inf")


def _chunks(cells: Iterable[int]) -> list[list[int]]:
    ordered = sorted(set(cells))
    return [ordered[i : i + _CHUNK] for i in range(0, len(ordered), _CHUNK)]


class StrategicTx:
    """Reads and writes of one transaction; obtain from ``Store.read()`` / ``Store.write()``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._pg = conn.dialect.name == "postgresql"
        self._sql = SQL["postgresql" if self._pg else "sqlite"]
        # psycopg connection under the SQLAlchemy one (PostgreSQL): see intent_sql.PgBatchSql.
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
            self._conn.execute(LOCK_SQL, {"keys": self._cells_param(parents)})
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
        return bool(self._conn.execute(TRY_LOCK_SQL, {"keys": self._cells_param(keys)}).scalar())

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
        return oir_record(row._mapping, cells)

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
            rows = pg_batch.run(self._driver, [(PG_BATCH.query_oirs, params)])[0]
        else:
            rows = list(self._conn.execute(self._sql.query_oirs, params).all())
        rows.sort(key=lambda r: r[ID])
        return [(oir_of_context(r), r[AVAILABILITY]) for r in rows]

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
            steps = self._begin_steps()
            if parents:
                steps.append((PG_BATCH.lock, {"keys": self._cells_param(parents)}))
            steps.append((PG_BATCH.context[cells is not None], params))
            rows = pg_batch.run(self._driver, steps)[-1]
        else:
            if lock is not None:
                self.lock_area(lock)
            rows = self._conn.execute(self._sql.context[cells is not None], params).all()
        return self._context_rows(rows, entity_id)

    def _begin_steps(self) -> list[pg_batch.Step]:
        """PostgreSQL: the first steps of a round trip that may open the transaction.

        psycopg opens a transaction with a BEGIN of its own round trip, even in pipeline mode.
        When this round trip opens the transaction, BEGIN travels with it instead: the
        connection goes to autocommit (so psycopg adds nothing) and the pipeline starts with an
        explicit BEGIN; every later statement of the transaction then runs inside that block.
        ``Store`` turns autocommit off again when the transaction has ended."""
        driver = self._driver
        if driver.autocommit or driver.pgconn.transaction_status != _PQ_IDLE:
            return []
        driver.autocommit = True
        return [pg_batch.BEGIN]

    def _context_rows(
        self, rows: Iterable[Any], entity_id: str
    ) -> tuple[OirRecord | None, list[tuple[OirRecord, str | None]], str | None]:
        old: OirRecord | None = None
        found: list[tuple[OirRecord, str | None]] = []
        mine: str | None = None
        for r in rows:
            kind = r[KIND]
            if kind == 0:
                raw = r[CELLS]
                own = raw if self._pg else orjson.loads(raw) if raw else ()
                old = oir_of_context(r, frozenset(own or ()))
            elif kind == 1:
                if r[ID] != entity_id:
                    found.append((oir_of_context(r), r[AVAILABILITY]))
            elif kind == 2:
                mine = r[AVAILABILITY]
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
                (PG_BATCH.try_lock, {"keys": self._cells_param(parent_cells(cells, LOCK_LEVEL))}),
                (PG_BATCH.context[True], params),
            ],
        )
        got_locks = bool(locked[0][0])
        old, found, mine = self._context_rows(rows, entity_id)
        if got_locks:
            return old, found, mine, None
        return old, found, mine, OirContext(params, fingerprint(rows))

    def write_oir(self, write: OirWrite, *, commit: bool = False) -> list[tuple[str, str]]:
        """Insert (``write.old`` None) or update an intent with its cells, append its event,
        and return the subscriptions to notify ``(id, uss_base_url)`` by id: those for intents
        sharing a cell with ``notify[0]``, overlapping ``notify[1]..notify[2]`` and not ended
        at ``notify[3]``.

        One statement on PostgreSQL, the event's insert included. With ``commit`` the
        transaction is committed right behind it, in the same round trip on PostgreSQL (so the
        area lock is released one round trip sooner): the last call of the transaction."""
        record, old = write.record, write.old
        params = self._write_params(write)
        old_cells = old.cells if old is not None else frozenset()
        sql = self._sql
        rows: Sequence[Any]
        if self._pg:
            driver = self._driver
            # A transaction that began with an explicit BEGIN (oir_write_context) ends with an
            # explicit COMMIT that travels with the write, where commit() would take a round
            # trip of its own; one that psycopg began is committed by psycopg.
            explicit_commit = commit and driver.autocommit
            steps: list[pg_batch.Step] = [(PG_BATCH.write[old is None], params)]
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
            record_table.append(self._conn, [write.event])
            rows = self._conn.execute(sql.subscribers, params).all()
        return [(sub_id, url) for sub_id, url in rows]

    def write_oir_guarded(
        self, write: OirWrite, context: OirContext
    ) -> list[tuple[str, str]] | None:
        """PostgreSQL, after :meth:`oir_write_attempt` found the area busy: end that
        transaction, then in a new one take the area locks of ``write.record`` and
        ``write.old`` (waiting, in order), write as :meth:`write_oir` (its event only if it
        wrote) only if the write's context is still what the attempt read (``context``), and
        commit; one round trip, so the locks are held for the database's own work only.
        Returns the subscriptions to notify, or None if the context had changed (nothing was
        written: decide again, under the lock)."""
        driver = self._driver
        if not self._pg or not driver.autocommit:
            raise RuntimeError("write_oir_guarded follows oir_write_attempt")
        record, old = write.record, write.old
        params = self._write_params(write)
        params |= context.params
        params["expected"] = context.expected
        parents = parent_cells(record.cells | (old.cells if old else frozenset()), LOCK_LEVEL)
        # The attempt's transaction (it only read) ends with COMMIT, releasing any lock it got.
        rows = pg_batch.run(
            driver,
            [
                pg_batch.COMMIT,
                pg_batch.BEGIN,
                (PG_BATCH.lock, {"keys": self._cells_param(parents)}),
                (PG_BATCH.write_guarded[old is None], params),
                pg_batch.COMMIT,
            ],
        )[3]
        # Rows (kind, subscription id, base URL): kind 0 if it wrote, 1 per subscriber.
        if not any(kind == 0 for kind, _, _ in rows):
            return None
        return sorted((sub_id, url) for kind, sub_id, url in rows if kind == 1)

    def write_unsubscribed_oir(
        self,
        entity_id: str,
        manager: str,
        cells: frozenset[int],
        altitude_lower_m: float,
        altitude_upper_m: float,
        start: datetime,
        end: datetime,
        decide: Callable[[OirRead], tuple[OirWrite, T] | None],
    ) -> tuple[T, list[tuple[str, str]]] | None:
        """The write of an intent that attaches no subscription, decided by ``decide`` on what
        it reads (the intent, the intersecting intents of ``cells`` in altitude and time, the
        availabilities), with the plan of the backend; the first call of the transaction (on
        PostgreSQL the write commits it, in its own round trip).

        ``decide`` raises to refuse, returns None to leave the write to the caller's general
        path, or returns the write and a value of its own. Returns that value with the
        subscriptions to notify, or None if nothing was written (``decide`` said None, or the
        area changed while the write waited for its locks: decide again on the general path).

        PostgreSQL: the area locks are tried without waiting, in the round trip of the read
        (:meth:`oir_write_attempt`). Free, the read ran under them and the write follows
        (:meth:`write_oir`). Busy, the read is a snapshot taken without them: the write decided
        on it is sent with a wait for the locks, to be made only if nothing read has changed
        (:meth:`write_oir_guarded`). SQLite: the transaction holds the database's write lock
        from its start, so the read is always under the lock (:meth:`oir_write_context`)."""
        context: OirContext | None = None
        if self._pg:
            old, found, mine, context = self.oir_write_attempt(
                entity_id, manager, cells, altitude_lower_m, altitude_upper_m, start, end
            )
        else:
            old, found, mine = self.oir_write_context(
                entity_id,
                manager,
                cells,
                altitude_lower_m,
                altitude_upper_m,
                start,
                end,
                lock=cells,
            )
        decided = decide((old, found, mine))
        if decided is None:
            return None
        write, value = decided
        if context is None:
            return value, self.write_oir(write, commit=True)
        rows = self.write_oir_guarded(write, context)
        return None if rows is None else (value, rows)

    def _write_params(self, write: OirWrite) -> dict[str, Any]:
        record, old = write.record, write.old
        old_cells = old.cells if old is not None else frozenset()
        n_cells, n_start, n_end, now = write.notify
        params: dict[str, Any] = {
            "id": record.id,
            **oir_columns(record),
            "gone": self._cells_param(old_cells - record.cells),
            "added": self._cells_param(record.cells - old_cells),
            "notify": self._cells_param(n_cells),
            "n_start": to_us(n_start),
            "n_end": to_us(n_end),
            "now": to_us(now),
            "true": True,
        }
        if self._pg:
            params |= record_table.pg_params(write.event)
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
        values = oir_columns(record)
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

    def oir_delete_context(self, entity_id: str, manager: str) -> OirDeleteRead:
        """What the delete of intent ``entity_id`` by ``manager`` decides on
        (:data:`OirDeleteRead`), read under the lock of the area the intent covers: the first
        call of the transaction. The area is known only from the intent, so it is read before
        the lock and again under it; if the intent changed in between,
        :class:`TransientStorageError` (the locks may not cover it: retry). On PostgreSQL the
        lock (its keys computed by the server from the intent's cells), the read under it, the
        subscription's row lock and the read of its other intents are one round trip."""
        from sharedsky.store.engine import TransientStorageError  # engine imports this module

        params = {"id": entity_id, "me": manager}
        sub: SubscriptionRecord | None = None
        others: list[str] = []
        if self._pg:
            steps = self._begin_steps()
            steps += [
                (PG_BATCH.lock_of_oir, params),
                (PG_BATCH.context[False], params),
                (PG_BATCH.subscription_of_oir, params),
                (PG_BATCH.co_attached, params),
            ]
            *_, seen, rows, sub_rows, other_rows = pg_batch.run(self._driver, steps)
            before = (seen[0][0], seen[0][1]) if seen else None
            old, _found, mine = self._context_rows(rows, entity_id)
            if sub_rows:
                sub = subscription_record(dict(zip(SUBSCRIPTION_COLUMNS, sub_rows[0], strict=True)))
            others = [r[0] for r in other_rows]
        else:
            # The write transaction holds SQLite's write lock: nothing moves meanwhile.
            rows = self._conn.execute(self._sql.context[False], params).all()
            old, _found, mine = self._context_rows(rows, entity_id)
            before = (old.version, old.ovn) if old is not None else None
            if old is not None and old.subscription_id is not None:
                sub = self.get_subscription(old.subscription_id)
                others = [
                    i for i in self.oir_ids_of_subscription(old.subscription_id) if i != entity_id
                ]
        now = (old.version, old.ovn) if old is not None else None
        if before != now:
            raise TransientStorageError(f"{entity_id} changed while its area was being locked")
        return old, mine, sub, others

    def remove_oir(
        self,
        old: OirRecord,
        event: Event,
        now: datetime,
        *,
        subscription: tuple[str, Event] | None = None,
        commit: bool = False,
    ) -> list[tuple[str, str]]:
        """Delete the intent ``old`` (with its cells) and append its ``event``; with
        ``subscription`` (its id and its event), delete that subscription and its cells too
        and append its event before the intent's. Returns the subscriptions to notify
        ``(id, uss_base_url)`` by id: those for intents sharing a cell with ``old``,
        overlapping its time range and not ended at ``now`` (a deleted one is gone).

        PostgreSQL: one statement (two with ``subscription``), the events' inserts included,
        and with ``commit`` the transaction's COMMIT, in one round trip (the last call of the
        transaction, as :meth:`write_oir`)."""
        params: dict[str, Any] = {
            "id": old.id,
            "notify": self._cells_param(old.cells),
            "n_start": to_us(old.time_start),
            "n_end": to_us(old.time_end),
            "now": to_us(now),
            "true": True,
        }
        rows: Sequence[Any]
        if self._pg:
            driver = self._driver
            explicit_commit = commit and driver.autocommit
            params |= record_table.pg_params(event)
            steps: list[pg_batch.Step] = [(PG_BATCH.delete[False], params)]
            if subscription is not None:
                sub_params = {"id": old.id, "subscription_id": subscription[0]}
                sub_params |= record_table.pg_params(subscription[1])
                steps = [(PG_BATCH.delete[True], sub_params)]
                steps.append((PG_BATCH.event_and_subscribers, params))
            found = len(steps) - 1
            if explicit_commit:
                steps.append(pg_batch.COMMIT)
            rows = pg_batch.run(driver, steps)[found]
            if commit and not explicit_commit:
                driver.commit()
        else:
            self.delete_oir(old.id)
            if subscription is not None:
                self.delete_subscription(subscription[0])
            record_table.append(
                self._conn, [subscription[1], event] if subscription is not None else [event]
            )
            rows = self._conn.execute(self._sql.subscribers, params).all()
        return [(sub_id, url) for sub_id, url in rows]

    # -- constraints -----------------------------------------------------------------------

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
        return constraint_record(row._mapping, cells)

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
        return [constraint_record(r._mapping) for r in rows]

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
        return subscription_record(row._mapping, cells)

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
        return [subscription_record(r._mapping) for r in rows]

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

    def append_event(self, event: Event) -> None:
        """Append one event to the record (never updated or deleted)."""
        record_table.append(self._conn, [event])

    def append_events(self, events: Sequence[Event]) -> None:
        """Append many events to the record in one statement, in order."""
        record_table.append(self._conn, events)

    def events(
        self, entity_type: str | None = None, entity_id: str | None = None, after_id: int = 0
    ) -> list[RecordedEvent]:
        """Events in order of their id, optionally for one entity type or entity."""
        return record_table.read(self._conn, entity_type, entity_id, after_id)

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
        return [constraint_record(r._mapping, frozenset(cells[r.id])) for r in rows]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
