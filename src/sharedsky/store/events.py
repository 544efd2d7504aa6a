"""The record's table ``events``: the one way in (append-only) and the way back out.

Every event of sharedsky enters the table here, on both backends: :func:`append` (one or many
events, in order, one statement) for every caller that writes through SQLAlchemy, and
:func:`pg_insert_sql` for PostgreSQL's one-round-trip intent writes, which embed the insert of
their event in their own statement (plain, or only if the write happened). Both take the
column values from the record's row form (:func:`sharedsky.record.event_row`) and the column
list from the table definition (:data:`sharedsky.store.tables.events`), which must agree with
:data:`sharedsky.record.EVENT_COLUMNS`. Nothing here updates or deletes a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import BindParameter, Connection, String, bindparam, insert, select

from sharedsky.model.events import Event, RecordedEvent
from sharedsky.record import EVENT_COLUMNS, event_row, recorded_event
from sharedsky.store import tables as t

__all__ = ["PG_BINDS", "append", "pg_insert_sql", "pg_params", "read"]

_COLUMNS = tuple(c for c in t.events.c if not c.primary_key)
if tuple(c.name for c in _COLUMNS) != EVENT_COLUMNS:  # pragma: no cover - a schema edit
    raise RuntimeError(
        f"the events table's columns {[c.name for c in _COLUMNS]} are not the record's "
        f"row form {list(EVENT_COLUMNS)}"
    )

_INSERT = insert(t.events)

PG_BINDS: tuple[BindParameter[Any], ...] = tuple(
    bindparam(c.name, type_=c.type) for c in _COLUMNS if not isinstance(c.type, String)
)
"""The typed parameters of :func:`pg_insert_sql` (its columns that are not text: the server
cannot infer their types in ``INSERT ... SELECT``); bind them on the statement embedding it."""


def append(conn: Connection, events: Sequence[Event]) -> None:
    """Append ``events`` to the record in one statement, in order."""
    if not events:
        return
    rows = [event_row(e) for e in events]
    conn.execute(_INSERT, rows if len(rows) > 1 else rows[0])


def pg_insert_sql(*, only_if: str | None = None) -> str:
    """PostgreSQL: the SQL of an insert of one event into the record, to embed in a larger
    statement (a CTE). Its parameters are named after the columns (:func:`pg_params` gives
    them, :data:`PG_BINDS` types them). With ``only_if`` (an SQL condition) the row is
    inserted only if the condition holds."""
    columns = ", ".join(c.name for c in _COLUMNS)
    values = ", ".join(f":{c.name}" for c in _COLUMNS)
    if only_if is None:
        return f"INSERT INTO {t.events.name} ({columns}) VALUES ({values})"
    return f"INSERT INTO {t.events.name} ({columns}) SELECT {values} WHERE {only_if}"


def pg_params(event: Event) -> dict[str, Any]:
    """The parameters of :func:`pg_insert_sql` for ``event``: its row, the payload as JSON
    text (the driver-level hot path sends parameters as text)."""
    row = event_row(event)
    row["payload"] = orjson.dumps(row["payload"]).decode()
    return row


def read(
    conn: Connection,
    entity_type: str | None = None,
    entity_id: str | None = None,
    after_id: int = 0,
) -> list[RecordedEvent]:
    """Events after ``after_id`` in order of their id, optionally for one entity type or
    entity."""
    e = t.events
    stmt = select(e).where(e.c.id > after_id).order_by(e.c.id)
    if entity_type is not None:
        stmt = stmt.where(e.c.entity_type == str(entity_type))
    if entity_id is not None:
        stmt = stmt.where(e.c.entity_id == entity_id)
    return [recorded_event(r._mapping) for r in conn.execute(stmt)]
