"""messaging: outbox rows name their subject and keep a short preview

Revision ID: 0015_message_subject
Revises: 0014_web
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_message_subject"
down_revision = "0014_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("subject", sa.String(255), nullable=True))
        batch.add_column(sa.Column("preview", sa.String(500), nullable=True))
        batch.create_index(batch.f("ix_outbox_subject"), ["subject"])
        batch.create_index(batch.f("ix_outbox_sent_event_id"), ["sent_event_id"])
    # Incident posts queued before: name their subject, as the messaging layer now does.
    op.execute(
        "UPDATE outbox SET subject = (SELECT 'incident:' || CAST(i.id AS VARCHAR(20)) || '\\:post'"
        " FROM incidents i WHERE i.triage_txn_id = outbox.txn_id)"
        " WHERE txn_id IN (SELECT triage_txn_id FROM incidents WHERE triage_txn_id IS NOT NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index(batch.f("ix_outbox_sent_event_id"))
        batch.drop_index(batch.f("ix_outbox_subject"))
        batch.drop_column("preview")
        batch.drop_column("subject")
