"""PostgreSQL: a commit that writes an alert notifies signal_changes too

Alerts (0008) open and close surge programs in the lists; like the tables of 0005, every
writer of them then tells the API processes, whatever else it writes (server/changes.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 17:25:00
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # signal_changed(): migration 0005
        op.execute(
            "CREATE TRIGGER alert_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON alert "
            "FOR EACH STATEMENT EXECUTE FUNCTION signal_changed()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER alert_changed ON alert")
