"""tips: claimed tip slots (posted, skipped, missed) and anonymous done-marks

Revision ID: 0005_tips
Revises: 0004_incidents
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.storage.base import UTCDateTime

revision = "0005_tips"
down_revision = "0004_incidents"
branch_labels = None
depends_on = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tip_posts",
        sa.Column("id", BigIntId, autoincrement=True, nullable=False),
        sa.Column("campaign", sa.String(64), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("txn_id", sa.String(255), nullable=True),
        sa.Column("event_id", sa.String(255), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=False),
        sa.Column("skipped_by", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_posts")),
        sa.UniqueConstraint(
            "campaign", "local_date", "room_id", name=op.f("uq_tip_posts_campaign")
        ),
    )
    op.create_index(op.f("ix_tip_posts_txn_id"), "tip_posts", ["txn_id"])
    op.create_index(op.f("ix_tip_posts_event_id"), "tip_posts", ["event_id"])
    op.create_table(
        "tip_done",
        sa.Column("id", BigIntId, autoincrement=True, nullable=False),
        sa.Column("post_id", BigIntId, nullable=False),
        sa.Column("reactor", sa.String(64), nullable=False),
        sa.Column("reacted_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_done")),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["tip_posts.id"],
            name=op.f("fk_tip_done_post_id_tip_posts"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("post_id", "reactor", name=op.f("uq_tip_done_post_id")),
    )


def downgrade() -> None:
    op.drop_table("tip_done")
    op.drop_index(op.f("ix_tip_posts_event_id"), table_name="tip_posts")
    op.drop_index(op.f("ix_tip_posts_txn_id"), table_name="tip_posts")
    op.drop_table("tip_posts")
