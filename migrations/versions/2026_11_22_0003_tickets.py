"""tickets: tables of the tickets feature (filled in by that feature's work)

Revision ID: 0003_tickets
Revises: 0002_ownership
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "0003_tickets"
down_revision = "0002_ownership"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
