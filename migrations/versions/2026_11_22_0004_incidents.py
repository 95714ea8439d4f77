"""incidents: tables of the incidents feature (filled in by that feature's work)

Revision ID: 0004_incidents
Revises: 0003_tickets
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "0004_incidents"
down_revision = "0003_tickets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
