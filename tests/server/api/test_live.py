"""The event stream's feed: new counts, dial status and admin edits all send the site again,
whichever process commits them and in whatever order."""

import asyncio
import uuid

import pytest
from paho.mqtt import publish
from sqlmodel import Session, select

from firmware.dialcore import protocol
from server import mqtt_url
from server.api.live import HIDDEN, Broadcaster
from server.db import make_engine, migrate
from server.ingest.client import Ingestor
from server.ingest.handler import handle
from server.models import Device, Program, utcnow
from server.settings import Settings
from tests.support import aio
from tests.support.stack import add_paired_site, start_subscribed
from tests.support.waiting import scaled


def test_an_admin_edit_is_sent_to_the_live_map(client, headers, site, session, engine, settings):
    feed = Broadcaster(engine, settings)
    assert feed.changed_sites() == []
    program = session.exec(select(Program).where(Program.site_id == site.id)).one()
    client.patch(
        f"/api/v1/programs/{program.id}", json={"accepting": False}, headers=headers["admin"]
    )
    [sent] = feed.changed_sites()
    assert (sent.id, sent.programs[0].accepting) == (site.id, False)
    assert feed.changed_sites() == []  # once


def test_edits_of_a_confidential_site_reach_the_public_stream_only_as_hidden(
    client, headers, site, engine, settings
):
    feed = Broadcaster(engine, settings)
    feed.changed_sites()
    created = client.post(
        "/api/v1/shelters",
        json={"name": "Quiet House", "confidential": True},
        headers=headers["admin"],
    )
    assert created.status_code == 201
    client.patch(
        f"/api/v1/shelters/{site.id}", json={"phone": "416-555-0101"}, headers=headers["admin"]
    )
    changed = feed.changed_sites()
    assert [s.name for s in changed if s != HIDDEN] == ["Maple House"]
    assert changed[-1] == HIDDEN  # key holders fetch it; nothing about it is in the event


def test_a_new_count_and_a_dial_going_offline_each_send_the_site_once(
    site, session, engine, settings, count
):
    feed = Broadcaster(engine, settings)
    feed.changed_sites()
    program = session.exec(select(Program).where(Program.site_id == site.id)).one()
    count(program.id, 7)
    [sent] = feed.changed_sites()
    assert (sent.id, sent.occupied) == (site.id, 7)
    assert feed.changed_sites() == []
    device = session.get(Device, "dial-01")
    device.status, device.status_at = "offline", utcnow()
    session.add(device)
    session.commit()
    [sent] = feed.changed_sites()
    assert (sent.id, sent.freshness) == (site.id, "unknown")
    assert feed.changed_sites() == []


@pytest.fixture
def shared(postgres):
    """A PostgreSQL database with two paired dials, reached through two engines: one for the
    API process's event stream, one for an ingestor in a process of its own."""
    url = postgres.new_database(f"live_{uuid.uuid4().hex[:8]}")
    migrate(url)
    api, ingest = make_engine(url), make_engine(url)
    with Session(ingest) as session:
        sites = {d: add_paired_site(session, d, name=f"House {d}") for d in ("dial-a", "dial-b")}
        session.commit()
    yield api, ingest, sites
    api.dispose()
    ingest.dispose()


def test_a_commit_by_another_ingestor_wakes_the_stream_at_once(shared, mosquitto):
    api, ingest, sites = shared
    # Polls too rare to matter here: after the first look, only a commit's notification can
    # bring an event
    settings = Settings(_env_file=None, live_poll_seconds=600)
    group = f"g{uuid.uuid4().hex[:6]}"  # a shared subscription gets no retained leftovers
    ingestor = Ingestor(ingest, mosquitto.url, f"ingest-{uuid.uuid4().hex[:6]}", 4096, 200, group)
    host, port = mqtt_url.parse(mosquitto.url)

    def count(seq: int, occupied: int) -> None:
        payload = protocol.encode_state(1, seq, "occupied", 1, [(occupied, 20)])
        publish.single(protocol.topic("dial-a", "state"), payload, 1, hostname=host, port=port)

    async def events():
        feed = Broadcaster(api, settings)
        await feed.start()
        queue = feed.subscribe()
        try:
            await asyncio.to_thread(start_subscribed, ingestor)
            await asyncio.to_thread(count, 1, 7)
            first = await asyncio.wait_for(queue.get(), scaled(20))  # maybe from the first look
            await asyncio.to_thread(count, 2, 8)
            return first, await asyncio.wait_for(queue.get(), scaled(20))  # from a notification
        finally:
            await feed.stop()
            ingestor.stop()

    first, second = aio.run(events())
    assert (first.id, first.occupied) == (sites["dial-a"], 7)
    assert (second.id, second.occupied) == (sites["dial-a"], 8)


def test_a_reading_committed_late_with_a_lower_id_is_still_sent(shared, settings):
    """Two ingestors: the first takes a reading id, the second a higher one and commits first."""
    api, ingest, sites = shared
    feed = Broadcaster(api, settings)
    feed.changed_sites()
    state = protocol.encode_state(1, 1, "occupied", 1, [(5, 20)])
    with Session(ingest) as slow, Session(ingest) as fast:
        handle(slow, protocol.topic("dial-a", "state"), state, 4096)
        slow.flush()  # its reading has its id now, but is not committed
        handle(fast, protocol.topic("dial-b", "state"), state, 4096)
        fast.commit()
        assert [s.id for s in feed.changed_sites()] == [sites["dial-b"]]
        slow.commit()
    assert [s.id for s in feed.changed_sites()] == [sites["dial-a"]]
    assert feed.changed_sites() == []
