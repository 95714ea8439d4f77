"""ownership: covers, provenance, reconfirmations and misses

Revision ID: 0011_ownership_trust
Revises: 0010_incidents_loop
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.storage.base import UTCDateTime

revision = "0011_ownership_trust"
down_revision = "0010_incidents_loop"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("ownership_areas") as batch:
        batch.add_column(sa.Column("covers", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("verified_by", sa.String(255), nullable=True))
        batch.add_column(sa.Column("source_file", sa.String(500), nullable=True))
        batch.add_column(sa.Column("source_line", sa.Integer(), nullable=True))
    op.create_table(
        "ownership_reconfirmations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("area_name", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.Column("room_id", sa.String(255), nullable=True),
        sa.Column("event_id", sa.String(255), nullable=True),
        sa.Column("txn_id", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("proposed_owner", sa.String(255), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(255), nullable=True),
    )
    op.create_index(
        op.f("ix_ownership_reconfirmations_area_name"), "ownership_reconfirmations", ["area_name"]
    )
    op.create_index(
        op.f("ix_ownership_reconfirmations_sent_at"), "ownership_reconfirmations", ["sent_at"]
    )
    op.create_index(
        op.f("ix_ownership_reconfirmations_event_id"), "ownership_reconfirmations", ["event_id"]
    )
    op.create_index(
        op.f("ix_ownership_reconfirmations_txn_id"), "ownership_reconfirmations", ["txn_id"]
    )
    op.create_table(
        "ownership_misses",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("near", sa.String(200), nullable=True),
        sa.Column("resolved", sa.Boolean(), nullable=False),
    )
    op.create_index(op.f("ix_ownership_misses_at"), "ownership_misses", ["at"])
    op.create_index(op.f("ix_ownership_misses_subject"), "ownership_misses", ["subject"])


def downgrade() -> None:
    op.drop_table("ownership_misses")
    op.drop_table("ownership_reconfirmations")
    with op.batch_alter_table("ownership_areas") as batch:
        batch.drop_column("source_line")
        batch.drop_column("source_file")
        batch.drop_column("verified_by")
        batch.drop_column("covers")
