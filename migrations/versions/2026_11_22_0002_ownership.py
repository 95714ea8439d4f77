"""ownership: responsibilities map (areas, teams) and its audit trail

Revision ID: 0002_ownership
Revises: 0001_foundation
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.storage.base import UTCDateTime

revision = "0002_ownership"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ownership_areas",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_key", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("team", sa.String(100), nullable=True),
        sa.Column("owners", sa.JSON(), nullable=False),
        sa.Column("backups", sa.JSON(), nullable=False),
        sa.Column("contact", sa.Text(), nullable=False),
        sa.Column("security", sa.Boolean(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("last_verified", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ownership_areas")),
        sa.UniqueConstraint("name_key", name=op.f("uq_ownership_areas_name_key")),
    )
    op.create_index(op.f("ix_ownership_areas_team"), "ownership_areas", ["team"])
    op.create_table(
        "ownership_teams",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("security_champion", sa.String(255), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ownership_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_ownership_teams_name")),
    )
    op.create_table(
        "ownership_audit",
        sa.Column("id", BigIntId, autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("field", sa.String(64), nullable=True),
        sa.Column("old_value", sa.JSON(), nullable=True),
        sa.Column("new_value", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ownership_audit")),
    )
    op.create_index(op.f("ix_ownership_audit_at"), "ownership_audit", ["at"])
    op.create_index(op.f("ix_ownership_audit_subject"), "ownership_audit", ["subject"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ownership_audit_subject"), table_name="ownership_audit")
    op.drop_index(op.f("ix_ownership_audit_at"), table_name="ownership_audit")
    op.drop_table("ownership_audit")
    op.drop_table("ownership_teams")
    op.drop_index(op.f("ix_ownership_areas_team"), table_name="ownership_areas")
    op.drop_table("ownership_areas")
