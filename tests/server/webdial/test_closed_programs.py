"""A surge or warming program closed now (server/alerts.py): its channel on the web dial says
CLOSED and why, offers no counting, and the API refuses a turn-away there; when its alert
opens it, the open page follows within a minute."""

import uuid

import httpx
from sqlmodel import Session, select

from server.models import Alert, DeviceChannel, Program, Reading
from tests.support.waiting import scaled

REFRESH_MS = 60_000  # dial.js: how often an open page fetches the dial's view again


def test_a_closed_program_takes_no_counts_until_its_alert_opens_it(stack, web, dials, signed_in):
    device_id, secret = dials.add(capacities=(20, 8))
    kind = f"cold-{uuid.uuid4().hex[:6]}"  # an alert kind of this test's own
    with Session(stack.system.engine) as session:
        warming = session.get(Program, session.get(DeviceChannel, (device_id, 1)).program_id)
        warming.opens_with_alert = kind
        session.add(warming)
        session.commit()

    page = signed_in(device_id, secret, fake_clock=True)  # a minute between refreshes: at once
    page.locator(".channel").nth(1).wait_for()
    counted, closed = page.locator(".channel").all()
    assert " ".join(closed.inner_text().split()) == (
        f"Room 2 CLOSED Nothing to count: this program opens only while a “{kind}” alert is on."
    )  # no stepper, count, turn-away or hold: nothing to offer
    assert not counted.locator(".closed").is_visible()

    counted.get_by_label("Room 1", exact=True).fill("5")
    page.get_by_role("button", name="Save").click()
    page.locator('#state[data-state="saved"]').wait_for()
    with Session(stack.system.engine) as session:
        stored = session.exec(select(Reading).where(Reading.device_id == device_id)).all()
    # a commit carries every channel; a closed one's stores nothing (docs/protocol.md)
    assert [(r.channel, r.occupied) for r in stored] == [(0, 5)]

    refused = httpx.post(
        f"{web.url}/api/v1/dial/{device_id}/commits",
        json={
            "counts": [5, 0],
            "turn_away": {"channel": 1, "reason": "no_bed", "id": "tap-0123456789"},
        },
        headers={"Authorization": f"Bearer {secret}"},
        timeout=scaled(30),
    )
    assert refused.status_code == 422
    assert (
        f"channel 1 (Room 2) is closed: it opens only while a '{kind}' alert is on"
        in refused.json()["error"]["message"]
    )

    with Session(stack.system.engine) as session:
        session.add(Alert(kind=kind, name="Extreme Cold Weather Alert"))
        session.commit()
    page.clock.run_for(REFRESH_MS)
    closed.get_by_text("Open for the Extreme Cold Weather Alert until").wait_for()
    assert closed.get_by_label("Room 2", exact=True).is_visible()
    assert closed.get_by_role("button", name="Turned away: no bed").is_visible()
    assert not closed.locator(".closed").is_visible()
