"""PostgreSQL: a commit that writes what the shelter lists show notifies signal_changes

Every writer (ingestors, API processes, `shelter-signal` commands, an operator in psql)
then tells every API process, which sends kept lists without querying the data until a
notification comes (server/changes.py). Triggers, not calls in our code: no writer can
forget. On SQLite nothing is needed (PRAGMA data_version sees every commit).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 16:20:00
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Table -> the writes that change a list (server/queries.py sites and data_version). A
# device's other columns (last_seen, telemetry) change with every message and show nowhere
# in the lists. One notification per statement; PostgreSQL folds a transaction's into one.
TRIGGERS = {
    "site": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "program": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "currentstate": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "devicechannel": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "device": "INSERT OR UPDATE OF status, status_at OR DELETE OR TRUNCATE",
    "hold": "INSERT OR UPDATE OR DELETE OR TRUNCATE",  # active holds count in the split
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # The channel is server/db.py CHANGES_CHANNEL (a migration does not import the app)
    op.execute(
        "CREATE FUNCTION signal_changed() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_notify('signal_changes', ''); RETURN NULL; END $$"
    )
    for table, events in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {table}_changed AFTER {events} ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION signal_changed()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TRIGGERS:
        op.execute(f"DROP TRIGGER {table}_changed ON {table}")
    op.execute("DROP FUNCTION signal_changed()")
