"""Whether anything was committed since a moment, known without a query of the data: what
lets the API send a kept list with no database work per request (server/api/list_cache.py).

`watch(engine).current()` returns a generation: a value that differs from every value
returned before a commit to the database completed, by any process, whatever it wrote
(None when it cannot tell: the caller then checks the data itself).

- SQLite: `PRAGMA data_version` on a connection of our own, which never writes. SQLite
  changes it when another connection, in this process or another, commits; it reads the
  WAL index in shared memory (4 us measured), so it runs on the event loop.
- PostgreSQL: every commit that writes the tables the lists read notifies `signal_changes`
  (triggers: migrations 0005, 0009), and a connection of our own LISTENs. A notification reaches
  us a moment after its commit, so each generation comes after a round trip on that
  connection (a fence): PostgreSQL sends a listener the notifications of every transaction
  committed before its query, before that query's answer. Requests that arrive while a
  fence is out wait for the next one and share it, so a burst of requests costs one round
  trip, on the event loop (asyncio psycopg), not one query each in a worker thread.
"""

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable

import psycopg
from sqlalchemy.engine import Engine

from server.db import CHANGES_CHANNEL

# A fence that has not come back by then (a database that stopped answering) gives "unknown":
# requests then go the route's way instead of all waiting on one silent connection. A round
# trip takes well under a millisecond on a healthy server.
FENCE_TIMEOUT_S = 5


class SharedRead:
    """Runs `read` for callers that each need a result from a read that started after they
    asked (a read under way when they arrive may predate what they must see). Callers that
    arrive during a read wait for the next one, which all of them share."""

    def __init__(self, read: Callable[..., Awaitable]):
        self._read = read
        self._started = self._done = 0  # reads started, and the last one finished
        self._reading: asyncio.Future | None = None  # the read under way
        self._last = None

    async def __call__(self, *args):
        wanted = self._started + 1
        while self._done < wanted:
            if self._reading is None:
                self._started += 1
                mine, self._reading = self._started, asyncio.get_running_loop().create_future()
                try:
                    value = await self._read(*args)
                    self._done, self._last = mine, value
                finally:  # on an error, a waiting caller starts another read
                    self._reading.set_result(None)
                    self._reading = None
            else:
                await self._reading
        return self._last


class SqliteChanges:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._connection: sqlite3.Connection | None = None
        # A new connection starts its data_version anew: the epoch keeps the generations of
        # two connections apart.
        self._epoch = 0

    async def current(self) -> tuple | None:
        try:
            if self._connection is None:
                pooled = self.engine.raw_connection()  # the engine's file and pragmas
                self._connection = pooled.driver_connection
                pooled.detach()  # ours for good: it must never write
                self._epoch += 1
            return self._epoch, self._connection.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            await self.close()
            return None

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class PostgresChanges:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._connection: psycopg.AsyncConnection | None = None
        self._epoch = 0  # notifications are lost while no connection listens
        self._notified = 0
        self.current = SharedRead(self._fence)

    async def _fence(self) -> tuple | None:
        try:
            async with asyncio.timeout(FENCE_TIMEOUT_S):
                if self._connection is None:
                    args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
                    connection = await psycopg.AsyncConnection.connect(*args, **kwargs)
                    await connection.set_autocommit(True)  # notifications come between transactions
                    connection.add_notify_handler(self._on_notify)
                    await connection.execute(f"LISTEN {CHANGES_CHANNEL}")
                    self._connection = connection
                    self._epoch += 1
                await self._connection.execute("SELECT 1")  # delivers what was committed before
            return self._epoch, self._notified
        except (psycopg.Error, TimeoutError):  # the database went away or hangs: the caller
            await self.close()  # checks the data itself
            return None

    def _on_notify(self, _notification) -> None:
        self._notified += 1

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()


def watch(engine: Engine) -> SqliteChanges | PostgresChanges:
    """The watcher for the engine's database (the two the project supports)."""
    return SqliteChanges(engine) if engine.dialect.name == "sqlite" else PostgresChanges(engine)
