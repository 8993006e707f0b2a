"""Database engine and schema migrations (Alembic: every schema change is a migration)."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

MIGRATIONS = Path(__file__).parent / "migrations"
# PostgreSQL channel on which a commit that changes what the map shows says so, so the event
# stream of every API process wakes at once instead of at its next poll (server/api/live.py)
CHANGES_CHANNEL = "signal_changes"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):  # WAL: readers (API) never block the writer (ingest)
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=FULL")  # a commit is on disk before we ack it
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(url: str) -> None:
    """Bring the database at `url` to the newest schema."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")


def notify_changes(session: Session) -> None:
    """Have the session's commit wake every event stream (PostgreSQL; elsewhere they poll).

    PostgreSQL delivers a NOTIFY only when its transaction commits, and folds identical ones
    in a transaction into one, so calling this once per changed message costs nothing more.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.exec(text(f"NOTIFY {CHANGES_CHANNEL}"))
