"""A city of 10,000 sites stays usable: few elements on screen, a list that pages, filters."""

import random
from datetime import timedelta

import httpx
from sqlalchemy import insert
from sqlmodel import Session

from server.models import CurrentState, Program, Reading, Sector, Site, utcnow
from tests.map.conftest import DESKTOP
from tests.support.waiting import scaled

SITES = 10_000
SECTORS = list(Sector)


def seed_many(engine, count: int) -> None:
    """`count` sites spread over a city-sized box, one counted program each (bulk inserts:
    the ORM one row at a time would take longer than the test)."""
    rng = random.Random(10_000)
    now = utcnow()
    sites, programs, readings, current = [], [], [], []
    for n in range(1, count + 1):
        capacity = rng.choice((10, 20, 40))
        occupied = rng.randint(0, capacity)
        sites.append(
            {
                "id": n,
                "name": f"Site {n:05d}",
                "lat": rng.uniform(43.58, 43.85),
                "lon": rng.uniform(-79.64, -79.12),
                "confidential": False,
            }
        )
        programs.append(
            {"id": n, "site_id": n, "name": "Beds", "sector": SECTORS[n % 5], "capacity": capacity}
        )
        at = now - timedelta(minutes=rng.randint(0, 60))
        readings.append(
            {
                "id": n,
                "program_id": n,
                "boot": 1,
                "seq": 1,
                "channel": 0,
                "occupied": occupied,
                "capacity": capacity,
                "source": "import",
                "received_at": at,
            }
        )
        current.append(
            {
                "program_id": n,
                "reading_id": n,
                "boot": 1,
                "seq": 1,
                "occupied": occupied,
                "capacity": capacity,
                "updated_at": at,
            }
        )
    with Session(engine) as session:
        for table, rows in ((Site, sites), (Program, programs), (Reading, readings)):
            session.execute(insert(table), rows)
        session.execute(insert(CurrentState), current)
        session.commit()


def test_ten_thousand_sites_group_on_the_map_and_page_in_the_list(small_system, open_page):
    stack = small_system(tiles_url="")
    seed_many(stack.system.engine, SITES)
    page = open_page(stack.http + "/", **DESKTOP)
    page.locator("#ss-list .ss-entry").first.wait_for(timeout=scaled(60_000))

    on_screen = page.locator(".ss-marker, .ss-group").count()
    assert 0 < on_screen < 300  # grouped: a screenful of markers, not 10,000
    represented = page.evaluate(
        """() => document.querySelectorAll('.ss-marker').length +
            [...document.querySelectorAll('.ss-group')]
                .reduce((n, e) => n + Number(e.dataset.sites), 0)"""
    )
    assert represented == SITES  # the first view holds every site, in groups
    # Thousands free in a group ("12,345" overflowed the circle) are rounded to fit: "12K"
    page.get_by_role("button", name="Zoom out", exact=True).click()
    page.get_by_role("button", name="Zoom out", exact=True).click()
    page.wait_for_function(
        """() => Math.max(...[...document.querySelectorAll('.ss-group')]
            .map(e => Number(e.dataset.free))) >= 10000"""
    )
    overflowing = page.evaluate(
        """() => [...document.querySelectorAll('.ss-group')].filter(e => {
            const range = document.createRange();
            range.selectNodeContents(e);  // the number, not the badge drawn by ::after
            const text = range.getBoundingClientRect();
            const box = e.getBoundingClientRect();
            return text.left < box.left + e.clientLeft || text.right > box.right - e.clientLeft;
        }).map(e => e.textContent)"""
    )
    assert overflowing == []
    page.get_by_role("button", name="Zoom in", exact=True).click()
    page.get_by_role("button", name="Zoom in", exact=True).click()

    assert page.locator("#ss-list .ss-entry").count() == 50
    more = page.get_by_role("button", name="Show 50 more")
    more.click()
    assert page.locator("#ss-list .ss-entry").count() == 100
    assert page.evaluate("document.activeElement.dataset.siteId") is not None  # entry 51

    listed = httpx.get(stack.http + "/api/v1/shelters?sector=women", timeout=scaled(60))
    women = listed.json()["items"]
    page.get_by_role("button", name="Filters").click()
    page.get_by_label("Women", exact=True).check()
    page.wait_for_function(
        "t => document.querySelector('#ss-status').textContent === t",
        arg=f"{len(women):,} of {SITES:,} shelters shown",
    )
    # The first group on screen: markers drawn in the pane's margin are outside the viewport
    inside = page.evaluate(
        """() => {
            const map = document.querySelector('.leaflet-container').getBoundingClientRect();
            return [...document.querySelectorAll('.ss-group')].findIndex(e => {
                const r = e.getBoundingClientRect();
                return r.left >= map.left && r.right <= map.right && r.top >= map.top &&
                    r.bottom <= map.bottom;
            });
        }"""
    )
    group = page.locator(".ss-group").nth(inside)
    handle = group.element_handle()
    group.click()
    page.wait_for_function("e => !e.isConnected", arg=handle)  # zoomed in on the group
