"""security: encrypted reporter routes, private outbox rows, incident retention

Revision ID: 0009_security
Revises: 0007_delivery
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.storage.base import UTCDateTime

revision = "0009_security"
down_revision = "0007_delivery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        # The way back to an anonymous reporter, encrypted with a key kept out of the DB.
        batch.add_column(sa.Column("reporter_route", sa.Text(), nullable=True))
        # Keyed hash of the message a text came from, so a redaction can erase it.
        batch.add_column(sa.Column("source_hash", sa.String(64), nullable=True))
    with op.batch_alter_table("ticket_comments") as batch:
        batch.add_column(sa.Column("source_hash", sa.String(64), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        # Content and DM target are erased once sent (messages to a person privately).
        batch.add_column(
            sa.Column("private", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("purged_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("purged_at")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("private")
    with op.batch_alter_table("ticket_comments") as batch:
        batch.drop_column("source_hash")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("source_hash")
        batch.drop_column("reporter_route")
