"""SQLAlchemy table definitions (the schema the migrations create).

Times are stored as integer microseconds since the Unix epoch (UTC) so that both backends
compare them the same way; S2 cell ids as signed 64-bit integers. The spatial index of each
entity kind is an ordinary ``(cell, entity)`` table whose primary key starts with the cell.
``events`` is append-only: every accepted write adds one row in the same transaction, through
:mod:`sharedsky.store.events` only; its columns other than ``id`` are the record's row form
(:data:`sharedsky.record.EVENT_COLUMNS`).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

__all__ = [
    "constraint_cells",
    "constraints",
    "events",
    "metadata",
    "oir_cells",
    "oirs",
    "reports",
    "subscription_cells",
    "subscriptions",
    "uss_availability",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(64)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("manager", String(255), nullable=False),
    Column("version", String(64), nullable=False),
    Column("notification_index", Integer, nullable=False),
    Column("uss_base_url", String(2048), nullable=False),
    Column("notify_for_operational_intents", Boolean, nullable=False),
    Column("notify_for_constraints", Boolean, nullable=False),
    Column("implicit", Boolean, nullable=False),
    Column("altitude_lower_m", Float, nullable=True),
    Column("altitude_upper_m", Float, nullable=True),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Index("ix_subscriptions_manager", "manager"),
)

subscription_cells = Table(
    "subscription_cells",
    metadata,
    Column("cell", BigInteger, primary_key=True),
    Column(
        "subscription_id",
        ID,
        ForeignKey("subscriptions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Index("ix_subscription_cells_subscription_id", "subscription_id"),
)

oirs = Table(
    "operational_intents",
    metadata,
    Column("id", ID, primary_key=True),
    Column("manager", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("ovn", String(128), nullable=False),
    Column("uss_base_url", String(2048), nullable=False),
    Column("subscription_id", ID, ForeignKey("subscriptions.id"), nullable=True),
    Column("altitude_lower_m", Float, nullable=False),
    Column("altitude_upper_m", Float, nullable=False),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Index("ix_operational_intents_subscription_id", "subscription_id"),
)

oir_cells = Table(
    "operational_intent_cells",
    metadata,
    Column("cell", BigInteger, primary_key=True),
    Column(
        "entity_id",
        ID,
        ForeignKey("operational_intents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Index("ix_operational_intent_cells_entity_id", "entity_id"),
)

constraints = Table(
    "constraints",
    metadata,
    Column("id", ID, primary_key=True),
    Column("manager", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("ovn", String(128), nullable=False),
    Column("uss_base_url", String(2048), nullable=False),
    Column("altitude_lower_m", Float, nullable=False),
    Column("altitude_upper_m", Float, nullable=False),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)

constraint_cells = Table(
    "constraint_cells",
    metadata,
    Column("cell", BigInteger, primary_key=True),
    Column(
        "entity_id",
        ID,
        ForeignKey("constraints.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Index("ix_constraint_cells_entity_id", "entity_id"),
)

uss_availability = Table(
    "uss_availability",
    metadata,
    Column("uss", String(255), primary_key=True),
    Column("availability", String(16), nullable=False),
    Column("version", String(64), nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)

reports = Table(
    "reports",
    metadata,
    Column("id", ID, primary_key=True),
    Column("reporter", String(255), nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("payload", JSON, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("operation", String(64), nullable=False),
    Column("entity_type", String(64), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("claimed_time", DateTime(timezone=True), nullable=True),
    Index("ix_events_entity", "entity_type", "entity_id"),
)
