"""foundation: handled events, outbox, room memberships, direct rooms, key-value state

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.storage.base import UTCDateTime

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "handled_events",
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("handled_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_handled_events")),
    )
    op.create_index(op.f("ix_handled_events_handled_at"), "handled_events", ["handled_at"])
    op.create_table(
        "outbox",
        sa.Column("id", BigIntId, autoincrement=True, nullable=False),
        sa.Column("txn_id", sa.String(255), nullable=False),
        sa.Column("source_event_id", sa.String(255), nullable=True),
        sa.Column("room_id", sa.String(255), nullable=True),
        sa.Column("dm_user_id", sa.String(255), nullable=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("sent_event_id", sa.String(255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(255), nullable=True),
        sa.Column("claimed_by", sa.String(255), nullable=True),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("txn_id", name=op.f("uq_outbox_txn_id")),
    )
    op.create_index(op.f("ix_outbox_source_event_id"), "outbox", ["source_event_id"])
    op.create_index(op.f("ix_outbox_sent_at"), "outbox", ["sent_at"])
    op.create_table(
        "room_memberships",
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("joined_at", UTCDateTime(), nullable=False),
        sa.Column("join_event_id", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("room_id", name=op.f("pk_room_memberships")),
    )
    op.create_table(
        "direct_rooms",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_direct_rooms")),
    )
    op.create_table(
        "kv",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_kv")),
    )


def downgrade() -> None:
    op.drop_table("kv")
    op.drop_table("direct_rooms")
    op.drop_table("room_memberships")
    op.drop_index(op.f("ix_outbox_sent_at"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_source_event_id"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_handled_events_handled_at"), table_name="handled_events")
    op.drop_table("handled_events")
