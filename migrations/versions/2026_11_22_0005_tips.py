"""tips: tables of the tips feature (filled in by that feature's work)

Revision ID: 0005_tips
Revises: 0004_incidents
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "0005_tips"
down_revision = "0004_incidents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
