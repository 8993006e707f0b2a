"""Holds on the outreach map: a signed-in worker holds a place from a list entry, reads the
code to give the desk, sees the place counted as held (on the city page too), and cancels it."""

import re

import pytest
from sqlmodel import Session

from server.auth import issue_key
from server.models import Role
from tests.map.conftest import DESKTOP, system_settings
from tests.map.test_outreach_sign_in import add_counted_site, sign_in
from tests.support.stack import Stack


@pytest.fixture(scope="module")
def shelter(mosquitto, tmp_path_factory):
    """A running system with one counted shelter (5 of 20 free) and an outreach key."""
    settings = system_settings(tmp_path_factory.mktemp("holds"), mosquitto.url, tiles_url="")
    with Stack(settings) as stack:
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
