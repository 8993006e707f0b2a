"""Before the list has come, the map shows the server's groups (GET /shelters/groups), asks
for those of each view it moves to, and never places a confidential shelter; the list
then takes over. Filters remembered from a visit before: the list draws, not the groups."""

import re

import httpx

from tests.map.conftest import PHONE

LIST = re.compile(r"/api/v1/shelters(\?|$)")  # the list, its first page or whole
MARKERS = """() => [...document.querySelectorAll('.ss-marker, .ss-group')].map(e => ({
    id: e.dataset.siteId ? Number(e.dataset.siteId) : null,
    sites: Number(e.dataset.sites || 1),
    free: e.dataset.free ?? e.dataset.available,
}))"""


def test_the_servers_groups_are_the_markers_until_the_list_comes(demo, open_page):
    public = httpx.get(demo.http + "/api/v1/shelters").json()["items"]
    placed = {s["id"] for s in public if s["lat"] is not None}
    page = open_page(demo.http + "/sw.js", **PHONE)  # this origin, before the map
    held = []  # the list (whole in this small city) is held back: the page has only the groups
    page.route(LIST, lambda route: held.append(route))
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/shelters/groups" in r.url else None)
    page.goto(demo.http + "/")
    page.wait_for_selector(".ss-marker, .ss-group")
    first = page.evaluate(MARKERS)
    assert sum(m["sites"] for m in first) == len(placed)  # every public place, once
    assert {m["id"] for m in first if m["id"] is not None} <= placed  # never a confidential one
    assert page.locator("#ss-list .ss-entry").count() == 0
    assert "width=390" in asked[0]  # asked with the page, before its scripts had come

    with page.expect_response(lambda r: "/shelters/groups?zoom=" in r.url):
        page.get_by_role("button", name="Zoom in", exact=True).click()  # a view of its own
    page.wait_for_function(
        "n => document.querySelectorAll('.ss-marker, .ss-group').length > n", arg=len(first)
    )
    assert "zoom=" in asked[-1] and "bbox=" in asked[-1]
    closer = page.evaluate(MARKERS)
    assert {m["id"] for m in closer if m["id"] is not None} <= placed

    for route in held:
        route.continue_()
    page.unroute(LIST)
    page.locator("#ss-list .ss-entry").first.wait_for(state="attached")
    listed = page.eval_on_selector_all("#ss-list .ss-entry", "es => es.length")
    assert listed > 0 and page.locator(".ss-marker, .ss-group").count() > 0


def test_with_filters_remembered_the_list_draws_the_first_markers(demo, open_page):
    page = open_page(demo.http + "/sw.js", **PHONE)
    page.evaluate(
        """() => localStorage.setItem('shelter-signal.map', JSON.stringify({space: true}))"""
    )
    asked = []
    page.on("request", lambda r: asked.append(r.url))
    page.goto(demo.http + "/")
    page.locator("#ss-list .ss-entry").first.wait_for(state="attached")
    page.wait_for_selector(".ss-marker, .ss-group")
    assert not [url for url in asked if "/shelters/groups" in url]
    statuses = page.eval_on_selector_all(
        "#ss-list .ss-entry", "es => es.map(e => e.dataset.status)"
    )
    assert set(statuses) <= {"space", "few"}  # the filter holds on the first view too
