"""The change feed behind /api/v1/events.

One poller per server process looks for new current states, device status changes and
admin edits in the database (so it sees what any ingestor or API process commits) and hands
the changed sites to every connected client. Clients that cannot keep up are dropped; their
browser reconnects and reloads the list.
"""

import asyncio
import contextlib
import logging
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from server.api.schemas import SitePublic
from server.models import CurrentState, Device, DeviceChannel, Program, Site, utcnow
from server.queries import sites
from server.settings import Settings

log = logging.getLogger(__name__)
QUEUE_SIZE = 256  # site updates a slow client may lag behind before it is dropped


HIDDEN = "hidden"  # the event for a change the public view leaves out


class Broadcaster:
    def __init__(self, engine: Engine, settings: Settings):
        self.engine = engine
        self.settings = settings
        self.clients: set[asyncio.Queue] = set()
        self._task: asyncio.Task | None = None
        self._last_reading = 0
        self._last_status: datetime | None = None
        self._last_edit: datetime | None = None

    async def start(self) -> None:
        await asyncio.to_thread(self.changed_sites)  # skip history: start from now
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        self.clients.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.clients.discard(queue)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.settings.live_poll_seconds)
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

    def _drop(self, queue: asyncio.Queue) -> None:
        """End a lagging client's stream: its backlog is dropped for a None that closes it."""
        self.clients.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)

    def changed_sites(self) -> list[SitePublic | str]:
        """The sites (as the public sees them) that changed since the last call, plus HIDDEN
        once when any changed site is one the public may not see (confidential)."""
        with Session(self.engine) as session:
            site_ids = set()
            readings = (
                select(CurrentState.reading_id, Program.site_id)
                .join(Program, Program.id == CurrentState.program_id)
                .where(CurrentState.reading_id > self._last_reading)
            )
            for reading_id, site_id in session.exec(readings):
                site_ids.add(site_id)
                self._last_reading = max(self._last_reading, reading_id)
            statuses = (
                select(Device.status_at, Program.site_id)
                .join(DeviceChannel, DeviceChannel.device_id == Device.id)
                .join(Program, Program.id == DeviceChannel.program_id)
                .where(col(Device.status_at).is_not(None))
            )
            if self._last_status is not None:
                statuses = statuses.where(col(Device.status_at) > self._last_status)
            for status_at, site_id in session.exec(statuses):
                site_ids.add(site_id)
                self._last_status = max(self._last_status or status_at, status_at)
            edits = select(Site.id, Site.edited_at).where(col(Site.edited_at).is_not(None))
            if self._last_edit is not None:
                edits = edits.where(col(Site.edited_at) > self._last_edit)
            for site_id, edited_at in session.exec(edits):
                site_ids.add(site_id)
                self._last_edit = max(self._last_edit or edited_at, edited_at)
            if not site_ids:
                return []
            public: list[SitePublic | str] = list(sites(session, self.settings, site_ids))
            # Key holders (outreach) fetch what they may see; the public learns nothing more
            # than /summary, which counts confidential beds, already tells it.
            return [*public, HIDDEN] if len(public) < len(site_ids) else public


def site_edited(session: Session, site_id: int | None) -> None:
    """Mark a site as changed by an admin, so that the event stream sends it again."""
    site = session.get(Site, site_id) if site_id is not None else None
    if site is not None:
        site.edited_at = utcnow()
        session.add(site)
