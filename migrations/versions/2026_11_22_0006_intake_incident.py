"""incident intakes reference the incident opened when the type was answered

Revision ID: 0006_intake_incident
Revises: 0005_tips
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_intake_incident"
down_revision = "0005_tips"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite cannot add a foreign key to an existing table in place.
    with op.batch_alter_table("incident_intakes") as batch:
        batch.add_column(sa.Column("incident_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_incident_intakes_incident_id_incidents"),
            "incidents",
            ["incident_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("incident_intakes") as batch:
        batch.drop_constraint(op.f("fk_incident_intakes_incident_id_incidents"), type_="foreignkey")
        batch.drop_column("incident_id")
