"""The record's table has one way in: ``sharedsky.store.events``."""

from __future__ import annotations

import re
from pathlib import Path

import sharedsky
from sharedsky.record import EVENT_COLUMNS
from sharedsky.store import events
from sharedsky.store import tables as t

SRC = Path(sharedsky.__file__).parent
WRITES_EVENTS = re.compile(r"INSERT\s+INTO\s+events\b|insert\(\s*t\.events\b|t\.events\.insert\b")


def test_the_table_is_the_row_form_of_an_event() -> None:
    assert tuple(c.name for c in t.events.c) == ("id", *EVENT_COLUMNS)


def test_the_embedded_insert_fills_every_column_plain_or_guarded() -> None:
    into = f"INSERT INTO {t.events.name} ({', '.join(EVENT_COLUMNS)})"
    values = ", ".join(f":{c}" for c in EVENT_COLUMNS)
    assert events.pg_insert_sql() == f"{into} VALUES ({values})"
    assert events.pg_insert_sql(only_if="EXISTS (SELECT 1 FROM w)") == (
        f"{into} SELECT {values} WHERE EXISTS (SELECT 1 FROM w)"
    )
    # the columns the server cannot type from a bare parameter in INSERT ... SELECT
    assert {b.key for b in events.PG_BINDS} == {"time", "payload", "claimed_time"}


def test_no_other_module_writes_the_events_table() -> None:
    writers = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if WRITES_EVENTS.search(path.read_text(encoding="utf-8"))
    )
    assert writers == ["store/events.py"]
