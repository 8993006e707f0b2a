"""intake schedule: a program's intake hours as spans ("mon 09:00-17:00"), or null

Filled from the site's intake hours text where it parses (server/intake.py), so the map can
say which intakes are open now.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 17:00:00
"""

import sqlalchemy as sa
from alembic import op

from server.intake import parse_hours

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("program") as batch:
        batch.add_column(sa.Column("intake_schedule", sa.JSON(), nullable=True))
    # Existing programs: from their site's text, where it parses (the rest stay unknown).
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT program.id, site.intake_hours FROM program "
            "JOIN site ON site.id = program.site_id WHERE site.intake_hours IS NOT NULL"
        )
    ).all()
    update = sa.text("UPDATE program SET intake_schedule = :spans WHERE id = :id").bindparams(
        sa.bindparam("spans", type_=sa.JSON)  # a JSON value on PostgreSQL, text on SQLite
    )
    for program_id, text in rows:
        spans = parse_hours(text)
        if spans is not None:
            connection.execute(update, {"spans": spans, "id": program_id})


def downgrade() -> None:
    with op.batch_alter_table("program") as batch:
        batch.drop_column("intake_schedule")
