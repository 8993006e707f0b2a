"""Find a bed: a woman with a dog, two taps from opening the page to a phone number to call.

The answer comes from the sites' and programs' attributes, the intake hours and fresh counts,
not from sector names: a mixed adult shelter that takes pets is in; a women's shelter whose
intake is closed now, one without pets, one for men, and one with an old count are out.
"""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from server.auth import issue_key
from server.intake import DAYS
from server.models import Gender, Program, Role, Sector, Site, utcnow
from tests.map.conftest import DESKTOP, PHONE, system_settings
from tests.map.seeding import record
from tests.map.test_outreach_sign_in import sign_in
from tests.support.stack import Stack

ALWAYS = [f"{day} 00:00-24:00" for day in DAYS]
HERE = {"latitude": 43.6500, "longitude": -79.3800}


def closed_now(zone: str) -> list[str]:
    """Intake hours that are closed now: an hour on another weekday."""
    tomorrow = DAYS[(utcnow().astimezone(ZoneInfo(zone)).weekday() + 1) % 7]
    return [f"{tomorrow} 10:00-11:00"]


@pytest.fixture(scope="module")
def city(mosquitto, tmp_path_factory):
    settings = system_settings(tmp_path_factory.mktemp("find"), mosquitto.url, tiles_url="")
    fresh, stale = timedelta(minutes=5), timedelta(hours=5)
    # name: (km north of HERE, gender served, pets, sector, intake, age of count, occupied of 20)
    shelters = {
        "Closed Women's Intake": (0.5, Gender.women, True, Sector.women, "closed", fresh, 10),
        "No Pets Women's": (0.6, Gender.women, False, Sector.women, ALWAYS, fresh, 10),
        "Men's Hall": (0.7, Gender.men, True, Sector.men, ALWAYS, fresh, 10),
        "Stale Mixed": (0.8, Gender.any, True, Sector.mixed, ALWAYS, stale, 10),
        "Harbour Mixed": (2.0, Gender.any, True, Sector.mixed, ALWAYS, fresh, 14),
    }
    with Stack(settings) as stack:
        ids = {}
        with Session(stack.system.engine) as session:
            for name, (north, gender, pets, sector, intake, age, occupied) in shelters.items():
                site = Site(
                    name=name,
                    lat=HERE["latitude"] + north / 111.2,  # km of latitude
                    lon=HERE["longitude"],
                    phone="416-555-0142",
                    gender_served=gender,
                    pets_allowed=pets,
                    min_age=18,
                )
                session.add(site)
                session.flush()
                schedule = closed_now(settings.timezone) if intake == "closed" else intake
                program = Program(
                    site_id=site.id,
                    name=name,
                    sector=sector,
                    capacity=20,
                    intake_schedule=schedule,
                )
                session.add(program)
                session.flush()
                record(session, program, [(utcnow() - age, occupied)])
                ids[name] = site.id
            _row, stack.key = issue_key(session, "find-a-bed holds", Role.outreach)
            session.commit()
        stack.ids = ids
        yield stack


def test_a_woman_with_a_dog_in_two_taps(city, open_page):
    page = open_page(city.http + "/", geolocation=HERE, permissions=["geolocation"], **PHONE)
    page.locator("#ss-list .ss-entry").first.wait_for(state="attached")
    page.get_by_role("button", name="Woman", exact=True).click()  # tap 1
    page.get_by_role("button", name="Pet", exact=True).click()  # tap 2
    results = page.locator("#ss-find-results li")
    results.first.wait_for()
    ids = results.evaluate_all("ls => ls.map(l => Number(l.dataset.siteId))")
    assert ids == [city.ids["Harbour Mixed"]]  # the mixed shelter takes her and her dog
    first = results.first
    call = first.get_by_role("link", name="Call 416-555-0142")
    assert call.is_visible() and call.get_attribute("href") == "tel:4165550142"
    assert "6 free" in first.inner_text() and "Mixed adult" in first.inner_text()
    assert re.search(r"updated [45] minutes ago", first.inner_text())  # its age, always
    assert "2 km away" in first.inner_text()  # ranked by distance from her
    # nearer, but out: intake closed now, no pets, men only, an old count
    page.get_by_role("button", name="Pet", exact=True).click()
    page.wait_for_function("() => document.querySelectorAll('#ss-find-results li').length === 2")
    ids = results.evaluate_all("ls => ls.map(l => Number(l.dataset.siteId))")
    assert ids == [city.ids["No Pets Women's"], city.ids["Harbour Mixed"]]  # nearest first
    page.get_by_role("button", name="Pet", exact=True).click()

    page.reload()  # remembered: the next visit opens on the answer, one tap from a call
    page.locator("#ss-find-results li").first.wait_for()
    assert (
        page.get_by_role("button", name="Woman", exact=True).get_attribute("aria-pressed") == "true"
    )
    assert page.locator("#ss-find-results li").evaluate_all(
        "ls => ls.map(l => Number(l.dataset.siteId))"
    ) == [city.ids["Harbour Mixed"]]


def test_a_signed_in_worker_holds_a_place_found_for_someone(city, open_page):
    """The list's and the popups' hold (holds.js), on each place found: offered only to a
    worker signed in with an outreach key (every place found has a free place)."""
    page = open_page(city.http + "/", **DESKTOP)
    page.get_by_role("button", name="Man", exact=True).click()
    hall = city.ids["Men's Hall"]
    found = page.locator(f'#ss-find-results li[data-site-id="{hall}"]')
    found.filter(has_text="10 free").wait_for()
    button = found.locator("button.ss-hold")
    assert button.count() == 1 and not button.is_visible()  # public: there, but not offered
    sign_in(page, city.key)
    found.get_by_role("button", name="Hold a place").click()
    status = page.locator("#ss-status")
    status.filter(has_text="Place held").wait_for()
    code = re.search(r"code (\w{4}),", status.inner_text()).group(1)
    mine = page.locator("#ss-holds li").filter(has_text=code)
    mine.wait_for()
    found.filter(has_text="9 free").wait_for()  # the place held is no longer free
    mine.get_by_role("button", name="Cancel").click()  # the city as the other tests find it
    found.filter(has_text="10 free").wait_for()


def test_a_tap_before_the_finder_has_loaded_is_not_lost(city, open_page):
    page = open_page(city.http + "/sw.js", **PHONE)  # this origin, before the map
    held = []  # the later scripts (find.js among them) held back: a weak signal
    page.route("**/static/bundle/later.js", lambda route: held.append(route))
    page.goto(city.http + "/", wait_until="commit")  # ("load" waits for the later scripts)
    page.wait_for_function("() => document.querySelector('.ss-marker, .ss-group')")
    page.get_by_role("button", name="Woman", exact=True).click()  # before find.js is here
    for route in held:
        route.continue_()
    page.locator("#ss-find-results li").first.wait_for()
    woman = page.get_by_role("button", name="Woman", exact=True)
    assert woman.get_attribute("aria-pressed") == "true"
