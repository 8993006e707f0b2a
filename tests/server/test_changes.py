"""server/changes.py: a generation that differs after any commit by any connection, read
without a query of the data, on SQLite and PostgreSQL."""

import socket

from sqlalchemy import text
from sqlmodel import Session

from server import changes
from server.changes import watch
from server.db import make_engine, migrate
from server.models import Alert, Site
from tests.server.conftest import add_maple_house
from tests.support.aio import run
from tests.support.services import LOOPBACK

# Every other connection to this test's database: only the watcher's
KILL_THE_OTHERS = text(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def test_the_generation_moves_with_every_commit_of_another_connection(engine_each_database):
    engine = engine_each_database
    other = make_engine(engine.url.render_as_string(hide_password=False))  # a pool of its own
    add_maple_house(Session(other))

    async def look() -> list:
        changes = watch(engine)
        seen = [await changes.current(), await changes.current()]
        with Session(other) as session:
            site = session.get(Site, 1)
            for name in ("Elm House", "Oak House"):
                site.name = name
                session.add(site)
                session.commit()
                seen.append(await changes.current())  # at once: no wait for a notification
            session.add(Alert(kind="cold", name="Extreme Cold Weather Alert"))  # nothing else
            session.commit()
            seen.append(await changes.current())
        await changes.close()
        return seen

    first, unchanged, renamed, renamed_again, alerted = run(look())
    other.dispose()
    assert first is not None and first == unchanged
    assert len({first, renamed, renamed_again, alerted}) == 4


def test_a_lost_postgresql_connection_never_gives_an_old_generation(postgres):
    url = postgres.new_database("changes_lost")
    migrate(url)
    engine = make_engine(url)

    async def look() -> list:
        changes = watch(engine)
        before = await changes.current()
        with engine.connect() as conn:  # the listener's connection dies (a restart, say)
            conn.execute(KILL_THE_OTHERS)
        during, after = await changes.current(), await changes.current()
        await changes.close()
        return [before, during, after]

    before, during, after = run(look())
    engine.dispose()
    assert during is None  # unknown: callers check the data themselves
    assert after is not None and after != before  # notifications may have been missed


def test_a_postgresql_that_never_answers_gives_unknown_not_a_hang(monkeypatch):
    silent = socket.create_server((LOOPBACK, 0))  # accepts, then says nothing
    monkeypatch.setattr(changes, "FENCE_TIMEOUT_S", 0.2)
    host, port = silent.getsockname()
    engine = make_engine(f"postgresql+psycopg://signal:x@{host}:{port}/signal")

    async def look():
        watcher = watch(engine)
        try:
            return await watcher.current()
        finally:
            await watcher.close()

    try:
        assert run(look()) is None
    finally:
        silent.close()
        engine.dispose()
