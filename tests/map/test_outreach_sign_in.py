"""Outreach sign-in on the map: with an outreach key, confidential sites are in the list with
their numbers and intake line, never with where they are; without one, the page is public.

One small city for the module: an open shelter, a confidential one with a count, and a
confidential one counted by a dial (for the live test).
"""

import uuid
from dataclasses import dataclass

import pytest
from sqlmodel import Session, select

from firmware.dialcore import display
from server.auth import issue_key
from server.models import ApiKey, Program, Role, Sector, Site, utcnow
from tests.map.conftest import DESKTOP, system_settings
from tests.map.seeding import record
from tests.support.stack import Stack
from tests.support.waiting import wait_until

# Two minutes with no keepalive: the page finds its link dead, reconnects and loads the list
# again, keyed (nothing is refetched on a timer: live.js)
RECONNECT = "02:01"
QUIET_PHONE = "416-555-0199"


@dataclass
class City:
    stack: Stack
    outreach_key: str
    city_key: str
    open_id: int  # public, counted
    quiet_id: int  # confidential, counted: 8 of 20 free
    dial_device: str  # the dial of another confidential site, not counted yet
    dial_site_id: int

    @property
    def http(self) -> str:
        return self.stack.http


def add_counted_site(session: Session, occupied: int, **fields) -> int:
    """A site with one men's program of 20 beds and a count of `occupied`, a minute old."""
    site = Site(city="Toronto", intake_hours="24/7", **fields)
    session.add(site)
    session.flush()
    program = Program(site_id=site.id, name="Beds", sector=Sector.men, capacity=20)
    session.add(program)
    session.flush()
    record(session, program, [(utcnow(), occupied)])
    return site.id


@pytest.fixture(scope="module")
def city(mosquitto, tmp_path_factory):
    settings = system_settings(tmp_path_factory.mktemp("sign-in"), mosquitto.url, tiles_url="")
    with Stack(settings) as stack:
        dial_device = f"quiet-{uuid.uuid4().hex[:8]}"
        dial_site_id = stack.add_site(dial_device, name="Harbour Rooms")
        with Session(stack.system.engine) as session:
            session.get(Site, dial_site_id).confidential = True
            open_id = add_counted_site(
                session, 15, name="Open Door", address="1 Open St", lat=43.65, lon=-79.38
            )
            quiet_id = add_counted_site(
                session,
                12,
                name="Quiet House",
                address="9 Secret St",
                lat=43.66,
                lon=-79.39,
                phone=QUIET_PHONE,
                confidential=True,
            )
            _row, outreach_key = issue_key(session, "sign-in tests", Role.outreach)
            _row, city_key = issue_key(session, "sign-in tests city", Role.city)
            session.commit()
        yield City(stack, outreach_key, city_key, open_id, quiet_id, dial_device, dial_site_id)


def sign_in(page, key: str) -> None:
    page.get_by_role("button", name="Outreach sign-in").click()
    page.get_by_label("Outreach key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def opened(open_page, city, **options):
    page = open_page(city.http + "/", **DESKTOP, **options)
    page.locator(f'.ss-entry[data-site-id="{city.open_id}"]').wait_for()
    return page


def sites_on_the_map(page) -> int:
    """How many sites the map draws: alone, or counted in a group."""
    return page.evaluate(
        """() => document.querySelectorAll('.ss-marker').length +
            [...document.querySelectorAll('.ss-group')]
                .reduce((n, e) => n + Number(e.dataset.sites), 0)"""
    )


def test_signed_in_outreach_lists_a_confidential_site_with_its_numbers_but_not_its_place(
    city, open_page
):
    page = opened(open_page, city)
    # the public view: no confidential site anywhere on the page
    assert page.locator(f'[data-site-id="{city.quiet_id}"]').count() == 0
    assert "Quiet House" not in page.content()
    assert sites_on_the_map(page) == 1

    sign_in(page, city.outreach_key)
    entry = page.locator(f'.ss-entry[data-site-id="{city.quiet_id}"]')
    entry.wait_for()
    assert page.locator("#ss-key-in-use").is_visible()
    assert "Signed in as outreach" in page.locator("#ss-key-in-use").inner_text()
    assert not page.get_by_role("button", name="Outreach sign-in").is_visible()
    entry.locator("summary").click()  # the folded intake details too
    text = entry.inner_text()
    assert "Confidential: call intake" in text and "Quiet House" in text
    assert "8 of 20 free" in text and "24/7" in text
    assert entry.get_by_role("link", name=f"Call {QUIET_PHONE}").get_attribute("href") == (
        "tel:4165550199"
    )
    assert "Secret St" not in page.content()
    assert entry.get_by_role("link", name="Directions").count() == 0
    assert entry.locator(".ss-show, .ss-distance").count() == 0
    assert "Location not published" not in text
    assert page.locator(f'.ss-marker[data-site-id="{city.quiet_id}"]').count() == 0
    assert sites_on_the_map(page) == 1  # still only the open shelter
    assert city.outreach_key not in page.url

    page.reload()  # the key lasts for this tab
    entry.wait_for()
    page.get_by_role("button", name="Sign out").click()
    entry.wait_for(state="detached")
    assert page.get_by_label("Outreach key").is_visible()
    assert page.evaluate("Object.keys(sessionStorage).length") == 0


def test_a_city_key_puts_no_confidential_site_on_the_map_either(city, open_page):
    page = opened(open_page, city)
    sign_in(page, city.city_key)  # the server would send where it is: the page leaves it out
    entry = page.locator(f'.ss-entry[data-site-id="{city.quiet_id}"]')
    entry.wait_for()
    assert "Secret St" not in page.content()
    assert entry.locator(".ss-show, .ss-distance").count() == 0
    assert sites_on_the_map(page) == 1


def test_a_wrong_key_is_refused_in_words_and_the_page_stays_public(city, open_page):
    page = opened(open_page, city)
    sign_in(page, "not-a-key")
    page.wait_for_function(
        "() => document.querySelector('#ss-key .ss-note').textContent"
        ".includes('not accepted (401)')"
    )
    assert page.get_by_label("Outreach key").is_visible()
    assert not page.locator("#ss-key-in-use").is_visible()
    assert page.evaluate("Object.keys(sessionStorage).length") == 0
    assert page.locator(f'[data-site-id="{city.quiet_id}"]').count() == 0


def test_a_revoked_key_signs_out_in_words_and_the_page_turns_public(city, open_page):
    with Session(city.stack.system.engine) as session:
        row, key = issue_key(session, "soon revoked", Role.outreach)
        session.commit()
        row_id = row.id
    page = opened(open_page, city, fake_clock=True)
    sign_in(page, key)
    entry = page.locator(f'.ss-entry[data-site-id="{city.quiet_id}"]')
    entry.wait_for()
    with Session(city.stack.system.engine) as session:
        session.exec(select(ApiKey).where(ApiKey.id == row_id)).one().revoked_at = utcnow()
        session.commit()
    page.clock.fast_forward(RECONNECT)
    entry.wait_for(state="detached")
    note = page.locator("#ss-key .ss-note").inner_text()
    assert "no longer accepted (401)" in note
    assert page.get_by_label("Outreach key").is_visible()


def test_a_signed_in_page_fetches_each_site_an_event_names_again_with_its_key(city, open_page):
    page = opened(open_page, city)
    sign_in(page, city.outreach_key)
    page.locator(f'.ss-entry[data-site-id="{city.quiet_id}"]').wait_for()
    engine = city.stack.system.engine
    with page.expect_request(f"**/api/v1/shelters/{city.open_id}") as asked, Session(engine) as db:
        site = db.get(Site, city.open_id)  # an admin's edit: the public stream sends the site
        site.phone, site.edited_at = "416-555-0142", utcnow()
        db.commit()
    assert asked.value.headers["authorization"] == f"Bearer {city.outreach_key}"
    entry = page.locator(f'.ss-entry[data-site-id="{city.open_id}"]')
    entry.get_by_role("link", name="Call 416-555-0142").wait_for()


def test_a_dial_turn_at_a_confidential_site_updates_the_signed_in_entry_live(
    city, open_page, tmp_path
):
    app = city.stack.start_dial(city.dial_device, tmp_path)
    try:
        wait_until(
            lambda: city.stack.do(lambda: app.config["version"]) == 1, message="config applied"
        )
        page = opened(open_page, city, fake_clock=True)
        sign_in(page, city.outreach_key)
        entry = page.locator(f'.ss-entry[data-site-id="{city.dial_site_id}"]')
        entry.wait_for()
        assert "no count yet" in entry.inner_text()
        page.evaluate("window.__sameDocument = true")  # gone if the page reloads

        # the public stream only says "hidden": the signed-in page asks what changed since
        # its list, with its key (a catch-up, not the whole list again)
        catch_up = lambda request: "/api/v1/shelters/changes?since=" in request.url  # noqa: E731
        with page.expect_request(catch_up) as asked:
            city.stack.do(app.turn, 5)
            city.stack.do(app.press)
            wait_until(
                lambda: city.stack.do(
                    lambda: display.state(app) == display.SAVED and not app.store.pending
                ),
                message="dial shows saved",
            )
        assert asked.value.headers["authorization"] == f"Bearer {city.outreach_key}"
        page.wait_for_function(
            "id => document.querySelector(`.ss-entry[data-site-id='${id}']`)"
            "?.textContent.includes('15 of 20 free')",
            arg=city.dial_site_id,
        )
        assert "Confidential: call intake" in entry.inner_text()
        assert page.locator(f'.ss-marker[data-site-id="{city.dial_site_id}"]').count() == 0
        assert page.evaluate("window.__sameDocument") is True
    finally:
        city.stack.stop_dial(app)
