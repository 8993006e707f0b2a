"""The change feed behind /api/v1/events.

One poller per server process compares what the map shows with what it showed at its last
look: each program's current reading, when each dial's status last changed, when an admin
last edited each site. So it sees what any ingestor or API process commits, in whatever
order their transactions end (a newest-id-seen marker would miss a reading with a lower id
committed late by a second ingestor). Each look reads one small row per program, dial and
edited site, so a look at 1,000 programs is a millisecond or two.

It looks every SIGNAL_LIVE_POLL_SECONDS, and on PostgreSQL also as soon as a commit that
changes the map NOTIFYs (server/db.py notify_changes: the ingestor after such a batch,
the API after an admin edit), at most every MIN_GAP_S. The changed sites go to every
connected client; clients that cannot keep up are dropped, and their browser reconnects and
reloads the list.
"""

import asyncio
import contextlib
import logging
import threading
import time

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from server import metrics
from server.db import CHANGES_CHANNEL, notify_changes
from server.models import CurrentState, Device, DeviceChannel, Program, Site, utcnow
from server.queries import sites
from server.settings import Settings
from server.shapes import SitePublic

log = logging.getLogger(__name__)
QUEUE_SIZE = 256  # site updates a slow client may lag behind before it is dropped
# Fewest seconds between two looks when commits wake the feed: a busy ingestor commits
# dozens of batches a second, and one look covers them all. Well inside the 250 ms the
# live map is allowed from a dial's commit (docs/benchmarks.md).
MIN_GAP_S = 0.05
SLICE_S = 0.25  # a LISTEN wait checks this often whether the server is shutting down


HIDDEN = "hidden"  # the event for a change the public view leaves out


class Gone(int):
    """The event for a site the public saw and no longer does (a warming centre closed)."""


class Broadcaster:
    def __init__(self, engine: Engine, settings: Settings):
        self.engine = engine
        self.settings = settings
        self.clients: set[asyncio.Queue] = set()
        self._task: asyncio.Task | None = None
        self._seen: dict[tuple, object] = {}  # what each look compares: see VERSIONS
        self._listener = Listener(engine) if engine.dialect.name == "postgresql" else None

    async def start(self) -> None:
        try:
            await asyncio.to_thread(self.changed_sites)  # skip history: start from now
        except Exception:  # the API still starts (and /ready says why it is not ready)
            log.warning("live feed cannot read the database yet; it will retry", exc_info=True)
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._listener:
            await asyncio.to_thread(self._listener.close)

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        self.clients.add(queue)
        metrics.SSE_CLIENTS.inc()
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        if queue in self.clients:  # a dropped client is already gone
            self.clients.remove(queue)
            metrics.SSE_CLIENTS.dec()

    async def _poll(self) -> None:
        looked = time.monotonic()
        while True:
            await self._wait_for_change()
            await asyncio.sleep(max(0.0, looked + MIN_GAP_S - time.monotonic()))
            if not self.clients:  # nobody to tell: a look would only cost the database
                continue  # (the next look, with a client, sends what changed meanwhile)
            looked = time.monotonic()
            try:
                changed = await asyncio.to_thread(self.changed_sites)
            except Exception:  # a database hiccup must not end the feed
                log.exception("live feed poll failed")
                continue
            for site in changed:  # a SitePublic, or HIDDEN
                for queue in list(self.clients):
                    try:
                        queue.put_nowait(site)
                    except asyncio.QueueFull:
                        self._drop(queue)

    async def _wait_for_change(self) -> None:
        """Until a commit notifies (PostgreSQL) or the poll interval has passed."""
        interval = self.settings.live_poll_seconds
        if self._listener is None:
            await asyncio.sleep(interval)
            return
        try:
            await asyncio.to_thread(self._listener.wait, interval)
        except Exception:  # the database went away: poll until it is back
            log.warning("live feed lost its LISTEN connection; polling", exc_info=True)
            await asyncio.sleep(interval)

    def end_streams(self) -> None:
        """End every open stream, as the server stops: browsers reconnect (to another API
        process behind the proxy, or to this one once it is back)."""
        for queue in list(self.clients):
            self._end(queue)

    def _drop(self, queue: asyncio.Queue) -> None:
        """End a lagging client's stream: it reconnects and catches up."""
        metrics.SSE_DROPPED.inc()
        self._end(queue)

    def _end(self, queue: asyncio.Queue) -> None:
        """Its backlog is dropped for a None that closes the stream."""
        self.unsubscribe(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)

    def changed_sites(self) -> list[SitePublic | Gone | str]:
        """The sites (as the public sees them) that changed since the last call, plus HIDDEN
        once when any changed site is one the public may not see (confidential)."""
        with Session(self.engine) as session:
            seen, site_ids = {}, set()
            for kind, query in VERSIONS:
                for key, version, site_id in session.exec(query):
                    seen[kind, key, site_id] = version
                    if self._seen.get((kind, key, site_id)) != version:
                        site_ids.add(site_id)
            self._seen = seen
            if not site_ids:
                return []
            public: list[SitePublic | str] = list(sites(session, self.settings, site_ids))
            missing = site_ids - {s.id for s in public}
            if not missing:
                return public
            # A site that is not confidential but left out has no program open now (surge
            # programs, server/alerts.py): pages take it off. Key holders (outreach) fetch
            # what they may see of the rest; the public learns nothing more than /summary,
            # which counts confidential beds, already tells it.
            query = select(Site.id).where(col(Site.id).in_(missing), col(Site.confidential))
            confidential = set(session.exec(query))
            gone = [Gone(i) for i in sorted(missing - confidential)]
            return [*public, *gone, HIDDEN] if confidential else [*public, *gone]


# (kind, query) pairs; each query gives (key, version, site id) rows, and a site whose row is
# new or has another version than at the last look has changed. Built once: every look uses them.
VERSIONS = (
    (
        "reading",
        select(CurrentState.program_id, CurrentState.reading_id, Program.site_id).join(
            Program, Program.id == CurrentState.program_id
        ),
    ),
    (
        "status",
        select(Device.id, Device.status_at, Program.site_id)
        .join(DeviceChannel, DeviceChannel.device_id == Device.id)
        .join(Program, Program.id == DeviceChannel.program_id)
        .where(col(Device.status_at).is_not(None)),
    ),
    ("edit", select(Site.id, Site.edited_at, Site.id).where(col(Site.edited_at).is_not(None))),
)


class Listener:
    """A PostgreSQL connection of its own that LISTENs on CHANGES_CHANNEL."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._connection = None  # a psycopg connection, opened by the first wait
        self._lock = threading.Lock()  # close() waits for a wait() in progress...
        self._closing = threading.Event()  # ...which ends within SLICE_S once this is set

    def wait(self, timeout: float) -> None:
        """Return at the next notification, or after `timeout` seconds; on (re)connecting
        return at once, since a change may have been committed while nobody listened."""
        with self._lock:
            if self._connection is None:
                self._connection = self._listen()
                return
            deadline = time.monotonic() + timeout
            try:
                while not self._closing.is_set() and time.monotonic() < deadline:
                    left = min(SLICE_S, deadline - time.monotonic())
                    if list(self._connection.notifies(timeout=left, stop_after=1)):
                        break
                for _ in self._connection.notifies(timeout=0):  # any more so far: same look
                    pass
            except Exception:  # the database restarted, say: connect again next time
                self._connection.close()
                self._connection = None
                raise

    def _listen(self):
        pooled = self.engine.raw_connection()  # the engine's URL, credentials and TLS
        connection = pooled.driver_connection
        pooled.detach()  # ours for good: the pool must never hand out a LISTENing connection
        connection.rollback()  # the pool's liveness ping may have begun a transaction
        connection.autocommit = True  # notifications arrive outside transactions only
        connection.execute(f"LISTEN {CHANGES_CHANNEL}")
        return connection

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def site_edited(session: Session, site_id: int | None) -> None:
    """Mark a site as changed by an admin, so that the event stream sends it again."""
    site = session.get(Site, site_id) if site_id is not None else None
    if site is not None:
        site.edited_at = utcnow()
        session.add(site)
        notify_changes(session)
