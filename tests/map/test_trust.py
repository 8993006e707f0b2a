"""Numbers an outreach worker can trust: every count shows its age, a dead link says so, and
what is not known is never shown as a number.

One small city, written straight into the database: a fresh count, an aging one, a stale one
with many free beds, and two shelters side by side that never counted.
"""

import re
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from sqlmodel import Session

from server.models import Program, Sector, Site, utcnow
from tests.map.conftest import DESKTOP, save_screenshot, system_settings
from tests.map.seeding import record
from tests.support.stack import Stack
from tests.support.stalling_proxy import StallingProxy
from tests.support.waiting import scaled

KEEPALIVE_S = 1  # the server's keepalive period here: the page's bound is two of them
# Where each shelter is, its sector, capacity, and (age of its count, occupied) or None.
CITY = {
    "Fresh Women": ((43.6500, -79.3800), Sector.women, 10, (timedelta(minutes=5), 7)),
    "Aging Mixed": ((43.6600, -79.3900), Sector.mixed, 20, (timedelta(minutes=50), 12)),
    "Stale Men": ((43.6300, -79.3600), Sector.men, 30, (timedelta(hours=5), 5)),
    "Never North": ((43.7000, -79.4500), Sector.youth, 10, None),
    "Never Beside": ((43.7000, -79.4501), Sector.youth, 10, None),  # one group with North
}
NEAR_STALE = {"latitude": 43.6301, "longitude": -79.3601}  # a few metres from Stale Men


@pytest.fixture(scope="module")
def city(mosquitto, tmp_path_factory):
    settings = system_settings(
        tmp_path_factory.mktemp("trust"),
        mosquitto.url,
        tiles_url="",
        events_keepalive_seconds=KEEPALIVE_S,
    )
    with Stack(settings) as stack:
        ids = {}
        with Session(stack.system.engine) as session:
            for name, ((lat, lon), sector, capacity, count) in CITY.items():
                site = Site(name=name, lat=lat, lon=lon, phone="416-555-0100")
                session.add(site)
                session.flush()
                program = Program(site_id=site.id, name=name, sector=sector, capacity=capacity)
                session.add(program)
                session.flush()
                if count:
                    age, occupied = count
                    record(session, program, [(utcnow() - age, occupied)])
                ids[name] = site.id
            session.commit()
        stack.ids = ids
        yield stack


def marker(page, city, name: str):
    return page.locator(f'.ss-marker[data-site-id="{city.ids[name]}"]')


def opened(open_page, url: str, **options):
    page = open_page(url, **{**DESKTOP, **options})
    page.locator("#ss-list .ss-entry").first.wait_for(state="attached")
    return page


def connection_state(page) -> str:
    return page.locator("#ss-connection").get_attribute("data-state")


def test_a_silenced_server_turns_the_badge_not_live_within_the_bound(city, open_page):
    with StallingProxy(urlparse(city.http).port) as proxy:
        page = opened(open_page, proxy.url + "/")
        page.wait_for_function(
            "() => document.querySelector('#ss-connection').dataset.state === 'live'"
        )
        # keepalives arrive and keep it live: the page hears the server again and again
        for _ in range(2):
            heard = page.locator("#ss-connection").get_attribute("data-heard")
            page.wait_for_function(
                "h => document.querySelector('#ss-connection').dataset.heard !== h", arg=heard
            )
            assert connection_state(page) == "live"

        proxy.stall()  # nothing closes: only the bytes stop, as in a dead zone
        bound_ms = 2 * KEEPALIVE_S * 1000
        page.wait_for_function(
            "() => document.querySelector('#ss-connection').dataset.state === 'offline'",
            timeout=scaled(bound_ms + 1000),
        )
        banner = page.locator("#ss-connection").inner_text()
        assert banner.startswith("Not live (last update") and "Live" not in banner

        proxy.resume()
        page.wait_for_function(
            "() => document.querySelector('#ss-connection').dataset.state === 'live'",
            timeout=scaled(10_000),
        )
        assert page.locator("#ss-connection").inner_text() == "Live"


def test_an_aging_count_wears_its_age_on_the_marker(city, open_page):
    page = opened(open_page, city.http + "/", fake_clock=True, service_workers="block")
    fresh, aging = marker(page, city, "Fresh Women"), marker(page, city, "Aging Mixed")
    tag = "e => getComputedStyle(e, '::before').content"
    assert fresh.get_attribute("data-freshness") == "fresh"
    assert "ss-aging" not in fresh.get_attribute("class") and fresh.evaluate(tag) == "none"
    assert aging.get_attribute("data-freshness") == "aging"
    age = aging.get_attribute("data-age")
    # 50 minutes old: 49 when the page's clock, set from a Date header in whole seconds, lags
    assert re.fullmatch(r"(49|5\d) min", age) and aging.evaluate(tag) == f'"{age}"'
    assert aging.inner_text() == "8"  # still the number to act on, in its status colour
    assert f"counted {age} ago" in aging.get_attribute("aria-label")
    save_screenshot(page, "aging-marker")
    # the same colour as a fresh count with space: only the tag tells them apart
    background = "e => getComputedStyle(e).backgroundColor"
    assert aging.get_attribute("data-status") == fresh.get_attribute("data-status") == "space"
    assert aging.evaluate(background) == fresh.evaluate(background)
    # The page ages counts itself, with no event and no answer from the server (which would
    # reset its clock to the server's): 5 + 26 minutes is aging. (No service worker here: a
    # route does not see what a worker fetches.)
    page.route("**/api/v1/**", lambda route: route.abort())
    page.clock.fast_forward("26:00")
    page.wait_for_function(
        "id => document.querySelector(`.ss-marker[data-site-id='${id}']`)"
        "?.dataset.freshness === 'aging'",
        arg=city.ids["Fresh Women"],
    )
    assert re.fullmatch(r"3\d min", fresh.get_attribute("data-age"))


def test_totals_count_only_current_counts_and_say_how_many_are_unknown(city, open_page):
    page = opened(open_page, city.http + "/")
    totals = page.locator("#ss-totals-list")
    totals.locator("li").first.wait_for()
    by_sector = {
        li.get_attribute("data-sector"): li.inner_text() for li in totals.locator("li").all()
    }
    assert by_sector["women"].endswith("3 free")  # fresh
    assert by_sector["mixed"].endswith("8 free")  # aging still counts
    assert "25" not in by_sector["men"]  # the stale 25 free is no promise...
    assert by_sector["men"].endswith("no current count")  # ...and not "0 free" either
    assert by_sector["youth"].endswith("no current count")


def test_unknown_is_never_shown_as_zero(city, open_page):
    page = opened(open_page, city.http + "/")
    group = page.locator(".ss-group")
    group.first.wait_for()
    assert group.count() == 1  # the two that never counted, side by side
    assert group.get_attribute("data-sites") == "2" and group.get_attribute("data-free") == ""
    assert group.inner_text() == "?"
    assert "No current count in 2 shelters" in group.get_attribute("aria-label")
    totals = page.locator("#ss-totals-list").inner_text()
    assert "0 free" not in totals
    for name in ("Never North", "Never Beside"):
        entry = page.locator(f'.ss-entry[data-site-id="{city.ids[name]}"]')
        entry.locator("summary").click()  # its programs
        text = entry.inner_text()
        assert "no count yet" in text and "? of 10 beds free" in text
        assert not re.search(r"\b0 (of|free)", text)


def test_space_now_and_nearest_leave_out_old_counts(city, open_page):
    page = opened(open_page, city.http + "/", geolocation=NEAR_STALE, permissions=["geolocation"])
    page.get_by_role("button", name="Filters").click()
    page.get_by_label("have space now", exact=True).check()
    page.wait_for_function(
        "() => document.querySelector('#ss-status').textContent === '2 of 5 shelters shown'"
    )
    listed = page.eval_on_selector_all("#ss-list .ss-entry", "es => es.map(e => +e.dataset.siteId)")
    assert set(listed) == {city.ids["Fresh Women"], city.ids["Aging Mixed"]}
    page.get_by_role("button", name="Clear filters").click()
    page.get_by_role("button", name="Near me").click()
    page.wait_for_function("() => document.querySelector('#ss-sort').value === 'distance'")
    order = page.eval_on_selector_all("#ss-list .ss-entry", "es => es.map(e => +e.dataset.siteId)")
    # the stale shelter next door comes after every current count, however far they are
    assert order[:2] == [city.ids["Fresh Women"], city.ids["Aging Mixed"]]
    assert order.index(city.ids["Stale Men"]) == 2
