"""A city of 10,000 sites stays usable: few elements on screen, a list that pages, filters."""

import random
import re
from datetime import timedelta

import httpx
from sqlalchemy import insert
from sqlmodel import Session

from server.models import CurrentState, Program, Reading, Sector, Site, utcnow
from tests.map.conftest import DESKTOP, LIVE, PHONE
from tests.support.waiting import scaled

SITES = 10_000
BIG_CITY = 2_500  # over live.js's WHOLE_AT_ONCE: the page starts from the list's first page
LIST = re.compile(r"/api/v1/shelters(\?|$)")  # the list's requests, a first page or whole
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
    lists = []  # the list's requests: only its first page until something needs them all
    page.on("request", lambda r: lists.append(r.url) if LIST.search(r.url) else None)
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
    assert page.locator("#ss-list-count").text_content() == f"{SITES:,} of {SITES:,} shelters shown"
    assert [url.split("/api/v1")[1] for url in lists] == ["/shelters?order=free&limit=50"]
    first_page = httpx.get(stack.http + "/api/v1/shelters?order=free&limit=50").json()["items"]
    listed = page.eval_on_selector_all("#ss-list .ss-entry", "es => es.map(e => e.dataset.siteId)")
    assert listed == [str(s["id"]) for s in first_page]  # the server's order is the page's
    more = page.get_by_role("button", name="Show 50 more")
    more.click()  # the whole list, then the next 50
    page.wait_for_function("() => document.querySelectorAll('#ss-list .ss-entry').length == 100")
    assert lists[-1].endswith("/api/v1/shelters")
    page.wait_for_function("() => document.activeElement.dataset.siteId")  # entry 51

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


def test_a_big_city_lists_a_first_page_until_a_feature_needs_every_site(small_system, open_page):
    """Over WHOLE_AT_ONCE sites (map/static/live.js) the page lists the server's first page
    and keeps the server's groups as its markers; the stream still changes it; Show on map
    and Find a bed work, the latter by loading every site first."""
    stack = small_system(tiles_url="")
    seed_many(stack.system.engine, BIG_CITY)
    page = open_page(stack.http + "/", **PHONE)
    lists = []
    page.on("request", lambda r: lists.append(r.url) if LIST.search(r.url) else None)
    page.locator("#ss-list .ss-entry").first.wait_for(state="attached", timeout=scaled(60_000))
    page.wait_for_function(LIVE)
    entries = page.locator("#ss-list .ss-entry")
    ids = entries.evaluate_all("es => es.map(e => Number(e.dataset.siteId))")
    assert len(ids) == 50 and lists == [stack.http + "/api/v1/shelters?order=free&limit=50"]

    # The last entry's count changes to 50 free of 50 (seed_many's most is 40): it moves to
    # the top, by the stream
    changed = ids[-1]
    with Session(stack.system.engine) as session:
        session.add(
            Reading(
                id=BIG_CITY + 1,
                program_id=changed,
                boot=2,
                seq=1,
                channel=0,
                occupied=0,
                capacity=50,
                source="import",
            )
        )
        state = session.get(CurrentState, changed)
        state.reading_id, state.occupied, state.capacity = BIG_CITY + 1, 0, 50
        state.updated_at = utcnow()
        session.commit()
    page.wait_for_function(
        "id => document.querySelector('#ss-list .ss-entry')?.dataset.siteId === String(id)",
        arg=changed,
        timeout=scaled(10_000),
    )
    assert "50 of 50 free" in entries.first.inner_text()

    page.get_by_role("button", name="List", exact=True).click()
    entries.first.get_by_role("button", name="Show on map").click()  # its marker, from the server
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert f"Site {changed:05d}" in popup.inner_text() and "50 of 50 free" in popup.inner_text()
    assert len(lists) == 1  # still only the first page

    page.get_by_role("button", name="Man", exact=True).click()  # Find a bed reads every site
    count = page.locator("#ss-find-count")
    page.wait_for_function(
        "e => !e.textContent.startsWith('Loading')",
        arg=count.element_handle(),
        timeout=scaled(60_000),
    )
    assert lists[-1] == stack.http + "/api/v1/shelters"
    # (seed_many gives no intake hours: none can be said to take him now)
    assert count.inner_text().startswith("No place with a current count")


def test_a_big_city_without_the_servers_groups_loads_the_whole_list_for_its_markers(
    small_system, open_page
):
    stack = small_system(tiles_url="")
    seed_many(stack.system.engine, BIG_CITY)
    page = open_page(stack.http + "/", **PHONE)
    page.route("**/api/v1/shelters/groups*", lambda route: route.fulfill(status=503))
    lists = []
    page.on("request", lambda r: lists.append(r.url) if LIST.search(r.url) else None)
    page.reload()
    page.wait_for_selector(".ss-marker, .ss-group", timeout=scaled(60_000))
    assert stack.http + "/api/v1/shelters" in lists  # (after its first page)
