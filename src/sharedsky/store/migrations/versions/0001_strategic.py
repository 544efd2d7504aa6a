"""Strategic coordination: intents, constraints, subscriptions, their cells, availability,
reports and the append-only event log.

Revision ID: 0001_strategic
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_strategic"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(64)


def _cells(name: str, fk_column: str, parent: str) -> None:
    op.create_table(
        name,
        sa.Column("cell", sa.BigInteger, nullable=False),
        sa.Column(fk_column, ID, nullable=False),
        sa.ForeignKeyConstraint(
            [fk_column],
            [f"{parent}.id"],
            ondelete="CASCADE",
            name=f"fk_{name}_{fk_column}_{parent}",
        ),
        sa.PrimaryKeyConstraint("cell", fk_column, name=f"pk_{name}"),
    )
    op.create_index(f"ix_{name}_{fk_column}", name, [fk_column])


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", ID, nullable=False),
        sa.Column("manager", sa.String(255), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("notification_index", sa.Integer, nullable=False),
        sa.Column("uss_base_url", sa.String(2048), nullable=False),
        sa.Column("notify_for_operational_intents", sa.Boolean, nullable=False),
        sa.Column("notify_for_constraints", sa.Boolean, nullable=False),
        sa.Column("implicit", sa.Boolean, nullable=False),
        sa.Column("altitude_lower_m", sa.Float, nullable=True),
        sa.Column("altitude_upper_m", sa.Float, nullable=True),
        sa.Column("start_us", sa.BigInteger, nullable=False),
        sa.Column("end_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
    )
    op.create_index("ix_subscriptions_manager", "subscriptions", ["manager"])
    _cells("subscription_cells", "subscription_id", "subscriptions")

    op.create_table(
        "operational_intents",
        sa.Column("id", ID, nullable=False),
        sa.Column("manager", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("ovn", sa.String(128), nullable=False),
        sa.Column("uss_base_url", sa.String(2048), nullable=False),
        sa.Column("subscription_id", ID, nullable=True),
        sa.Column("altitude_lower_m", sa.Float, nullable=False),
        sa.Column("altitude_upper_m", sa.Float, nullable=False),
        sa.Column("start_us", sa.BigInteger, nullable=False),
        sa.Column("end_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name="fk_operational_intents_subscription_id_subscriptions",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_operational_intents"),
    )
    op.create_index(
        "ix_operational_intents_subscription_id", "operational_intents", ["subscription_id"]
    )
    _cells("operational_intent_cells", "entity_id", "operational_intents")

    op.create_table(
        "constraints",
        sa.Column("id", ID, nullable=False),
        sa.Column("manager", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("ovn", sa.String(128), nullable=False),
        sa.Column("uss_base_url", sa.String(2048), nullable=False),
        sa.Column("altitude_lower_m", sa.Float, nullable=False),
        sa.Column("altitude_upper_m", sa.Float, nullable=False),
        sa.Column("start_us", sa.BigInteger, nullable=False),
        sa.Column("end_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_constraints"),
    )
    _cells("constraint_cells", "entity_id", "constraints")

    op.create_table(
        "uss_availability",
        sa.Column("uss", sa.String(255), nullable=False),
        sa.Column("availability", sa.String(16), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("uss", name="pk_uss_availability"),
    )
    op.create_table(
        "reports",
        sa.Column("id", ID, nullable=False),
        sa.Column("reporter", sa.String(255), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reports"),
    )
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("entity_type", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_entity", "events", ["entity_type", "entity_id"])


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("reports")
    op.drop_table("uss_availability")
    op.drop_table("constraint_cells")
    op.drop_table("constraints")
    op.drop_table("operational_intent_cells")
    op.drop_table("operational_intents")
    op.drop_table("subscription_cells")
    op.drop_table("subscriptions")
