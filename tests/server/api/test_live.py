"""The event stream's feed: new counts, dial status and admin edits all send the site again."""

from sqlmodel import select

from server.api.live import HIDDEN, Broadcaster
from server.models import Device, Program, utcnow


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
