"""incidents close the loop: lead, merges, update reminders, hash-chained timeline, clocks

Revision ID: 0010_incidents_loop
Revises: 0009_security
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.storage.base import UTCDateTime

revision = "0010_incidents_loop"
down_revision = "0009_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("severity_set_by", sa.String(255), nullable=True))
        batch.add_column(sa.Column("lead", sa.String(255), nullable=True))
        batch.add_column(sa.Column("merged_into", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("last_update_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("update_reminded_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("incident_events") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=True))
    _chain_existing_timelines()
    op.create_table(
        "incident_clocks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("deadline_at", UTCDateTime(), nullable=False),
        sa.Column("reminded", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("met_at", UTCDateTime(), nullable=True),
        sa.Column("met_by", sa.String(255), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_clocks_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_clocks")),
    )
    op.create_index(
        op.f("ix_incident_clocks_incident_id"), "incident_clocks", ["incident_id"], unique=False
    )


def _chain_existing_timelines() -> None:
    """Hash-chain the timelines written before this revision, in the order written."""
    from types import SimpleNamespace

    from bot.features.incidents.chain import entry_hash

    events = sa.table(
        "incident_events",
        sa.column("id", sa.Integer()),
        sa.column("incident_id", sa.Integer()),
        sa.column("at", UTCDateTime()),
        sa.column("author", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("text", sa.Text()),
        sa.column("source_event_id", sa.String()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(events).order_by(events.c.incident_id, events.c.id)).all()
    last: dict[int, str] = {}
    for row in rows:
        entry = SimpleNamespace(**row._mapping)
        entry.prev_hash = last.get(row.incident_id)
        digest = entry_hash(entry)  # type: ignore[arg-type]
        bind.execute(
            events.update()
            .where(events.c.id == row.id)
            .values(prev_hash=entry.prev_hash, hash=digest)
        )
        last[row.incident_id] = digest


def downgrade() -> None:
    op.drop_index(op.f("ix_incident_clocks_incident_id"), table_name="incident_clocks")
    op.drop_table("incident_clocks")
    with op.batch_alter_table("incident_events") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("update_reminded_at")
        batch.drop_column("last_update_at")
        batch.drop_column("merged_into")
        batch.drop_column("lead")
        batch.drop_column("severity_set_by")
