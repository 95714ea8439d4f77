"""tips: keyed per-person marks (tip_marks) replace the unkeyed tip_done hashes

Existing ✅ rows are carried over with their hash re-hashed under a random salt that is
thrown away: the counts stay, but nobody (not even with the member list) can link them
to a person any more. They cannot be taken back by removing the reaction.

Revision ID: 0012_tips_live
Revises: 0011_ownership_trust
Create Date: 2026-12-02
"""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from alembic import op

from bot.storage.base import UTCDateTime

revision = "0012_tips_live"
down_revision = "0011_ownership_trust"
branch_labels = None
depends_on = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    marks = op.create_table(
        "tip_marks",
        sa.Column("id", BigIntId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("campaign", sa.String(64), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("post_id", BigIntId, nullable=True),
        sa.Column("marker", sa.String(64), nullable=False),
        sa.Column("event_ref", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_marks")),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["tip_posts.id"],
            name=op.f("fk_tip_marks_post_id_tip_posts"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("event_ref", name=op.f("uq_tip_marks_event_ref")),
    )
    op.create_index(op.f("ix_tip_marks_campaign"), "tip_marks", ["campaign"])
    op.create_index(op.f("ix_tip_marks_post_id"), "tip_marks", ["post_id"])
    op.create_index(op.f("ix_tip_marks_marker"), "tip_marks", ["marker"])
    salt = secrets.token_hex(32)  # never stored: the old hashes become unlinkable
    done = sa.table(
        "tip_done",
        sa.column("post_id"),
        sa.column("reactor"),
        sa.column("reacted_at", UTCDateTime()),
    )
    posts = sa.table(
        "tip_posts", sa.column("id"), sa.column("campaign"), sa.column("local_date", sa.Date())
    )
    rows = op.get_bind().execute(
        sa.select(
            done.c.post_id, done.c.reactor, done.c.reacted_at, posts.c.campaign, posts.c.local_date
        ).join(posts, posts.c.id == done.c.post_id)
    )
    carried = [
        {
            "kind": "done",
            "campaign": campaign,
            "local_date": local_date,
            "post_id": post_id,
            "marker": hashlib.sha256(f"{salt}:{reactor}".encode()).hexdigest(),
            "event_ref": None,
            "created_at": reacted_at,
        }
        for post_id, reactor, reacted_at, campaign, local_date in rows
    ]
    if carried:
        op.bulk_insert(marks, carried)
    op.drop_table("tip_done")


def downgrade() -> None:
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
    # Done-marks go back as they are (keyed hashes); stuck-marks had no place before.
    op.execute(
        "INSERT INTO tip_done (post_id, reactor, reacted_at) "
        "SELECT post_id, marker, MIN(created_at) FROM tip_marks "
        "WHERE kind = 'done' AND post_id IS NOT NULL GROUP BY post_id, marker"
    )
    op.drop_index(op.f("ix_tip_marks_marker"), table_name="tip_marks")
    op.drop_index(op.f("ix_tip_marks_post_id"), table_name="tip_marks")
    op.drop_index(op.f("ix_tip_marks_campaign"), table_name="tip_marks")
    op.drop_table("tip_marks")
