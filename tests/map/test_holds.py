"""Holds on the outreach map, on PostgreSQL: a signed-in worker holds a place from a list
entry or from the places Find a bed lists, reads the code to give the desk, sees the place
counted as held (on the city page too), and cancels it; or the desk marks the person
arrived, on a simulated dial or on the web dial (in French), and the open map shows them
counted in; or nobody comes and the hold ends by itself."""

import re
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session, select

from firmware.dialcore import display
from server.auth import issue_key
from server.intake import DAYS
from server.models import DeviceChannel, Hold, HoldState, Program, Role, utcnow
from server.queries import sites
from tests.map.conftest import DESKTOP, system_settings
from tests.map.test_outreach_sign_in import add_counted_site, sign_in
from tests.server.webdial.webapp import Dials
from tests.support.stack import Stack
from tests.support.waiting import scaled, wait_until


@pytest.fixture(scope="module")
def shelter(postgres, mosquitto, tmp_path_factory):
    """A running system on PostgreSQL, as in production, with one counted shelter (5 of 20
    free) and an outreach key."""
    url = postgres.new_database(f"holds_{uuid.uuid4().hex[:8]}")
    settings = system_settings(
        tmp_path_factory.mktemp("holds"), mosquitto.url, tiles_url="", database_url=url
    )
    with Stack(settings) as stack:
        assert stack.system.engine.dialect.name == "postgresql"
        with Session(stack.system.engine) as session:
            site_id = add_counted_site(session, 15, name="Elm Hall", lat=43.65, lon=-79.38)
            _row, key = issue_key(session, "holds map tests", Role.outreach)
            session.commit()
        yield stack, site_id, key


def test_a_worker_holds_a_place_from_the_map_and_cancels_it(shelter, open_page):
    stack, site_id, key = shelter
    page = open_page(stack.http + "/", **DESKTOP)
    entry = page.locator(f'.ss-entry[data-site-id="{site_id}"]')
    entry.wait_for()
    assert not entry.get_by_role("button", name="Hold a place").is_visible()  # public: none
    sign_in(page, key)
    hold = entry.get_by_role("button", name="Hold a place")
    hold.click()
    status = page.locator("#ss-status")
    status.filter(has_text="Place held").wait_for()
    code = re.search(r"code (\w{4}),", status.inner_text()).group(1)
    item = page.locator("#ss-holds li")
    item.filter(has_text=code).wait_for()
    assert "Beds, held until" in item.inner_text()
    entry.filter(has_text="4 of 20 beds free · 1 held").wait_for()  # the split, as shown
    city = open_page(stack.http + "/city", **DESKTOP)
    city.get_by_text("1 place held for someone on the way").first.wait_for()
    item.get_by_role("button", name="Cancel").click()
    status.filter(has_text=f"Hold {code} cancelled").wait_for()
    item.wait_for(state="detached")
    entry.filter(has_text="5 of 20 beds free · accepting").wait_for()


def test_a_hold_ends_at_its_time_with_nobody_connected_and_an_open_map_shows_it(shelter, open_page):
    """No worker signed in, no dial: the server ends the hold at its time by itself, and a
    public map open meanwhile shows the place free again from its event stream."""
    stack, site_id, key = shelter
    placed = httpx.post(
        f"{stack.http}/api/v1/programs/{_program_of(stack, site_id)}/holds",
        json={},
        headers={"Authorization": f"Bearer {key}"},
        timeout=scaled(30),
    )
    assert placed.status_code == 201, placed.text
    page = open_page(stack.http + "/", **DESKTOP)  # public: no key on this page
    entry = page.locator(f'.ss-entry[data-site-id="{site_id}"]')
    entry.filter(has_text="4 of 20 beds free · 1 held").wait_for()
    with Session(stack.system.engine) as session:  # its time comes now, not in 90 minutes
        hold = session.get(Hold, placed.json()["id"])
        hold.expires_at = utcnow() + timedelta(seconds=1)
        session.add(hold)
        session.commit()
    entry.filter(has_text="5 of 20 beds free · accepting").wait_for()
    with Session(stack.system.engine) as session:
        assert session.get(Hold, placed.json()["id"]).state == HoldState.expired


def _program_of(stack, site_id: int) -> int:
    with Session(stack.system.engine) as session:
        return session.exec(select(Program.id).where(Program.site_id == site_id)).one()


def test_a_hold_placed_from_the_map_is_shown_at_the_desk_and_marked_arrived(
    shelter, open_page, tmp_path
):
    """Held from a list entry and from Find a bed; shown on a simulated dial (the screen's
    top line) and on the web dial (its page, in French); each marked arrived at the desk: the
    hold ends and the person is counted in, in one commit, and the open map shows it."""
    stack, _site_id, key = shelter
    dial_id = f"ash-{uuid.uuid4().hex[:6]}"
    dial_site = stack.add_site(dial_id, name="Ash House")
    app = stack.start_dial(dial_id, tmp_path)
    wait_until(lambda: stack.do(lambda: app.config["version"]) >= 1, message="config")
    stack.do(lambda: (app.turn(2), app.press()))
    wait_until(lambda: stack.do(lambda: app.store.pending) is None, message="count saved")
    web_id, secret = Dials(stack).add(capacities=(20,))
    saved = httpx.post(
        f"{stack.http}/api/v1/dial/{web_id}/commits",
        json={"counts": [3]},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=scaled(30),
    )
    assert saved.json()["result"] == "saved"
    with Session(stack.system.engine) as session:  # intake open all week: Find a bed lists it
        program = session.get(Program, session.get(DeviceChannel, (web_id, 0)).program_id)
        program.intake_schedule = [f"{day} 00:00-24:00" for day in DAYS]
        session.add(program)
        session.commit()

    page = open_page(stack.http + "/", **DESKTOP)
    sign_in(page, key)
    page.get_by_role("button", name="Man", exact=True).click()
    web_name = f"House {web_id}"
    places = (
        ("Ash House", page.locator(".ss-entry", has_text="Ash House")),
        (web_name, page.locator("#ss-find-results li", has_text=web_name)),
    )
    for held, (name, where) in enumerate(places, start=1):
        where.get_by_role("button", name="Hold a place").click()
        wait_until(
            lambda n=held: page.locator("#ss-holds li").count() == n,
            message=f"held at {name}: {page.locator('#ss-status').inner_text()}",
        )
    page.locator(".ss-entry", has_text=web_name).filter(has_text="1 held").wait_for()
    codes = {h.program_id: h.code for h in _active_holds(stack)}
    assert len(codes) == 2

    # the simulated dial shows it in place of the shelter's name, and the desk ends it
    wait_until(
        lambda: stack.do(lambda: display.screen(app)["title"]).startswith("1 HELD"),
        message="the dial shows the hold",
    )
    hold_id = stack.do(lambda: app.config["holds"][0][0]["id"])
    stack.do(lambda: app.end_hold(hold_id, "arrived"))
    wait_until(lambda: stack.do(lambda: app.store.pending) is None, message="arrival saved")
    stack.stop_dial(app)

    # the web dial (a French-speaking desk) lists it with the code and the Arrived button
    desk = open_page(f"{stack.http}/dial/{web_id}?lang=fr", **DESKTOP)
    desk.get_by_label("Secret du cadran").fill(secret)
    desk.get_by_role("button", name="Ouvrir le cadran").click()
    desk.locator(".hold").wait_for()
    [web_code] = [c for c in codes.values() if desk.get_by_text(f"Réservée : {c}").count()]
    desk.get_by_role("button", name=f"Arrivée : {web_code}").click()
    desk.get_by_text(": réservation arrivée").wait_for()
    assert desk.get_by_label("Room 1", exact=True).input_value() == "4"

    # the map, open all along, shows both counted in and nothing held (its event stream)
    page.locator(".ss-entry", has_text="Ash House").filter(
        has_text="17 of 20 beds free · accepting"
    ).wait_for()
    page.locator(".ss-entry", has_text=web_name).filter(
        has_text="16 of 20 beds free · accepting"
    ).wait_for()

    assert _active_holds(stack) == []
    with Session(stack.system.engine) as session:
        shown = {s.id: s for s in sites(session, stack.system.settings, role=Role.admin)}
    assert (shown[dial_site].occupied, shown[dial_site].held) == (3, 0)
    [web_site] = [s for s in shown.values() if s.name == f"House {web_id}"]
    assert (web_site.occupied, web_site.held) == (4, 0)


def _active_holds(stack):
    with Session(stack.system.engine) as session:
        return session.exec(select(Hold).where(Hold.state == HoldState.active)).all()
