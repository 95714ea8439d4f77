"""ownership: tables of the ownership feature (filled in by that feature's work)

Revision ID: 0002_ownership
Revises: 0001_foundation
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "0002_ownership"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
