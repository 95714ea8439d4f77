"""incidents: incidents, their timeline, guided intakes, triage thread messages

Revision ID: 0004_incidents
Revises: 0003_tickets
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.storage.base import UTCDateTime

revision = "0004_incidents"
down_revision = "0003_tickets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("type_key", sa.String(64), nullable=False),
        sa.Column("type_name", sa.String(255), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("occurred", sa.Text(), nullable=True),
        sa.Column("affected", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(16), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reporter", sa.String(255), nullable=False),
        sa.Column("assignee", sa.String(255), nullable=True),
        sa.Column("first_steps", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("acked_at", UTCDateTime(), nullable=True),
        sa.Column("acked_by", sa.String(255), nullable=True),
        sa.Column("paged_at", UTCDateTime(), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("triage_txn_id", sa.String(255), nullable=True),
        sa.Column("triage_event_id", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index(op.f("ix_incidents_status"), "incidents", ["status"])
    op.create_index(op.f("ix_incidents_triage_event_id"), "incidents", ["triage_event_id"])
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("author", sa.String(255), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source_event_id", sa.String(255), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_events_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_events")),
    )
    op.create_index(op.f("ix_incident_events_incident_id"), "incident_events", ["incident_id"])
    op.create_table(
        "incident_intakes",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_incident_intakes")),
    )
    op.create_table(
        "incident_messages",
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_messages_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_incident_messages")),
    )
    op.create_index(op.f("ix_incident_messages_incident_id"), "incident_messages", ["incident_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_incident_messages_incident_id"), table_name="incident_messages")
    op.drop_table("incident_messages")
    op.drop_table("incident_intakes")
    op.drop_index(op.f("ix_incident_events_incident_id"), table_name="incident_events")
    op.drop_table("incident_events")
    op.drop_index(op.f("ix_incidents_triage_event_id"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_status"), table_name="incidents")
    op.drop_table("incidents")
