"""The record's events get the time their sender claimed (``claimed_time``, nullable).

Existing rows keep their values (the new column is NULL for them: no claim was recorded).

Revision ID: 0002_event_claimed_time
Revises: 0001_strategic
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_event_claimed_time"
down_revision = "0001_strategic"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("claimed_time", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("events", "claimed_time")
