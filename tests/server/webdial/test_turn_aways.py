"""Turn-aways from the web dial, through the real broker and ingestor: one tap, one person,
also when the ingestor is away and the page sends the tap or the commit again."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
from sqlmodel import Session

from server import turnaways
from tests.server.webdial.test_dial_api import _auth, _repeat
from tests.server.webdial.webapp import ingestor_down
from tests.support.waiting import scaled

TORONTO = ZoneInfo("America/Toronto")
REFRESH_MS = 60_000  # dial.js: how often an open page fetches the dial's view again


def _tap(web, device_id, secret, reason, tap_id, counts=(5,)):
    return httpx.post(
        f"{web.url}/api/v1/dial/{device_id}/commits",
        json={"counts": list(counts), "turn_away": {"channel": 0, "reason": reason, "id": tap_id}},
        headers=_auth(secret),
        timeout=scaled(30),
    )


def _counted(stack, device_id):
    tonight = turnaways.night_of(datetime.now(UTC), TORONTO)
    with Session(stack.system.engine) as session:
        rows = turnaways.counted(session, tonight, tonight, TORONTO)
    return sorted((r.reason, r.people) for r in rows if r.site_name == f"House {device_id}")


def test_a_tap_is_one_person_through_an_outage_and_repeats(stack, web, dials):
    device_id, secret = dials.add(capacities=(20,))
    first = _tap(web, device_id, secret, "no_bed", "tap-0000001")
    assert first.status_code == 200, first.text
    assert first.json()["turned_away"] == [{"no_bed": 1}]
    with ingestor_down(stack):
        pending = _tap(web, device_id, secret, "not_eligible_age", "tap-0000002")
        assert pending.status_code == 202
        # the answer was lost: the page sends the same tap again, as a new commit
        again = _tap(web, device_id, secret, "not_eligible_age", "tap-0000002")
        assert again.json()["turned_away"] == [{"no_bed": 1, "not_eligible_age": 1}]
    saved = _repeat(web, device_id, secret, pending.json())
    assert saved.json()["result"] == "saved"
    assert _counted(stack, device_id) == [("no_bed", 1), ("not_eligible_age", 1)]


def test_a_tap_names_a_channel_and_reason_the_dial_has(web, dials):
    device_id, secret = dials.add(capacities=(20,))
    wrong = httpx.post(
        f"{web.url}/api/v1/dial/{device_id}/commits",
        json={"counts": [5], "turn_away": {"channel": 1, "reason": "no_bed", "id": "tap-0000003"}},
        headers=_auth(secret),
        timeout=scaled(30),
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["message"] == f"turn_away.channel: {device_id} has no channel 1"
    unknown = _tap(web, device_id, secret, "rude", "tap-0000004")
    assert unknown.status_code == 422
    assert unknown.json()["error"]["message"].startswith("turn_away.reason:")


def test_one_tap_on_the_page_counts_one_person_through_an_outage(stack, dials, signed_in):
    device_id, secret = dials.add(capacities=(20,))
    page = signed_in(device_id, secret)
    page.get_by_label("Room 1", exact=True).fill("5")
    state = page.locator("#state")
    with ingestor_down(stack):
        page.get_by_role("button", name="Turned away: no bed").click()
        page.locator('#state[data-state="pending"]').wait_for(timeout=scaled(20_000))
    page.locator('#state[data-state="saved"]').wait_for(timeout=scaled(20_000))
    assert state.inner_text().endswith(": turned away, no bed")
    page.get_by_label("Room 1: why not eligible").select_option(label="age")
    page.get_by_role("button", name="Turned away: not eligible").click()
    page.get_by_text("turned away, not eligible (age)").wait_for()
    assert _counted(stack, device_id) == [("no_bed", 1), ("not_eligible_age", 1)]


def test_the_reason_chosen_stays_chosen_when_the_page_refreshes(web, dials, signed_in):
    device_id, secret = dials.add(capacities=(20,))
    page = signed_in(device_id, secret, fake_clock=True)  # a minute between refreshes: at once
    why = page.get_by_label("Room 1: why not eligible")
    why.select_option(label="age")
    with page.expect_response(f"**/api/v1/dial/{device_id}"):  # the refresh: drawn anew
        page.clock.run_for(REFRESH_MS)
    assert why.input_value() == "not_eligible_age"
