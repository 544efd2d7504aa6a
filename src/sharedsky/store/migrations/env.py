"""Alembic environment of sharedsky's store.

Run only through :func:`sharedsky.store.open_store` (or ``upgrade``), which passes an open
connection already inside a transaction (and, on PostgreSQL, holding an advisory lock so that
several processes starting together migrate one at a time).
"""

from __future__ import annotations

from alembic import context

from sharedsky.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("sharedsky migrations run only through sharedsky.store.upgrade()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
