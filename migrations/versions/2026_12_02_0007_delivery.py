"""delivery: per-destination outbox queues, dead letters, the active replica's fence

Revision ID: 0007_delivery
Revises: 0006_intake_incident
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.storage.base import UTCDateTime

revision = "0007_delivery"
down_revision = "0006_intake_incident"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("destination", sa.String(255), nullable=True))
        batch.add_column(sa.Column("kind", sa.String(32), nullable=False, server_default="reply"))
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("state", sa.String(16), nullable=False, server_default="pending")
        )
        batch.add_column(sa.Column("next_attempt_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("dead_at", UTCDateTime(), nullable=True))
        batch.create_index(op.f("ix_outbox_destination"), ["destination"])
        batch.create_index(op.f("ix_outbox_state"), ["state"])
    # Rows written before this revision: sent ones are "sent"; the rest queue per target.
    op.execute("UPDATE outbox SET state = 'sent' WHERE sent_at IS NOT NULL")
    op.execute("UPDATE outbox SET destination = COALESCE(room_id, dm_user_id)")
    op.create_table(
        "leader",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("fence", BIGINT, nullable=False),
        sa.Column("holder", sa.String(255), nullable=True),
        sa.Column("acquired_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leader")),
    )


def downgrade() -> None:
    op.drop_table("leader")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index(op.f("ix_outbox_state"))
        batch.drop_index(op.f("ix_outbox_destination"))
        for column in ("dead_at", "next_attempt_at", "state", "priority", "kind", "destination"):
            batch.drop_column(column)
