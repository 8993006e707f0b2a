"""The outreach map in headless Chromium, on the demo city (tests/map/seeding.py).

The API is the reference: what the page shows is checked against what /api/v1/shelters says,
including its own filters, so the map and the API cannot drift apart.
"""

import re

import httpx
from sqlmodel import Session, select

from server.models import Site
from tests.map.conftest import DESKTOP, PHONE, save_screenshot

GEO = {"latitude": 43.70, "longitude": -79.40}  # mid-town Toronto, among the demo's sites


def shelters(demo, query: str = "") -> list[dict]:
    return httpx.get(f"{demo.http}/api/v1/shelters{query}").json()["items"]


def ready(page):
    """The page has drawn the shelters (the list exists even while hidden on a phone)."""
    page.locator("#ss-list .ss-entry").first.wait_for(state="attached")
    return page


def listed_ids(page) -> list[int]:
    """The ids in the list, in order, after "Show more" until every entry shows."""
    more = page.locator("#ss-more")
    while more.is_visible():
        more.click()
    return page.eval_on_selector_all("#ss-list .ss-entry", "es => es.map(e => +e.dataset.siteId)")


def entry_status(page, site_id: int) -> str:
    return page.locator(f'.ss-entry[data-site-id="{site_id}"]').get_attribute("data-status")


def show_on_map(page, site_id: int):
    """The list's "Show on map" for one site: its own marker, popup open."""
    page.locator(f'.ss-entry[data-site-id="{site_id}"] .ss-show').click()
    marker = page.locator(f'.ss-marker[data-site-id="{site_id}"]')
    marker.wait_for()
    return marker


def test_first_view_fits_every_public_site_and_markers_say_the_number(demo, open_page):
    page = ready(open_page(demo.http + "/", **DESKTOP))
    save_screenshot(page, "desktop")
    sites = {s["id"]: s for s in shelters(demo)}
    drawn = page.evaluate(
        """() => ({
            ids: [...document.querySelectorAll('.ss-marker')].map(e => Number(e.dataset.siteId)),
            grouped: [...document.querySelectorAll('.ss-group')]
                .reduce((n, e) => n + Number(e.dataset.sites), 0),
        })"""
    )
    # each located site is on the first view exactly once: alone, or counted in a group
    assert len(drawn["ids"]) + drawn["grouped"] == len([s for s in sites.values() if s["lat"]])
    assert set(drawn["ids"]) <= set(sites)
    area = page.locator(".folium-map").bounding_box()
    for box in (m.bounding_box() for m in page.locator(".ss-marker, .ss-group").all()):
        assert area["x"] <= box["x"] and box["x"] + box["width"] <= area["x"] + area["width"]
        assert area["y"] <= box["y"] and box["y"] + box["height"] <= area["y"] + area["height"]
    for site_id in drawn["ids"]:
        marker = page.locator(f'.ss-marker[data-site-id="{site_id}"]')
        site = sites[site_id]
        count = "" if site["available"] is None else str(site["available"])
        expected = {"space": count, "few": count, "full": "FULL"}
        assert marker.inner_text() == expected.get(marker.get_attribute("data-status"), count + "?")
        assert site["name"] in marker.get_attribute("aria-label")
    # the list has every public site; confidential ones appear nowhere
    assert sorted(listed_ids(page)) == sorted(sites)
    with Session(demo.stack.system.engine) as session:
        hidden = session.exec(select(Site.id).where(Site.confidential == True)).all()  # noqa: E712
    assert hidden
    for site_id in hidden:
        assert page.locator(f'[data-site-id="{site_id}"]').count() == 0


def test_popup_has_everything_an_outreach_worker_needs(demo, open_page):
    page = ready(open_page(demo.http + "/", **DESKTOP))
    site = next(s for s in shelters(demo) if s["id"] in demo.kinds["current"] and s["phone"])
    marker = show_on_map(page, site["id"])
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert site["name"] in text and site["address"] in text
    assert f"{site['available']} of {site['capacity']} free" in text
    for program in site["programs"]:
        assert program["name"] in text
        assert f"{program['available']} of {program['capacity']}" in text
    assert site["intake_hours"] in text
    assert re.search(r"updated \d+ minutes? ago", text)
    call = popup.get_by_role("link", name=f"Call {site['phone']}")
    assert call.get_attribute("href") == "tel:" + re.sub(r"[^0-9]", "", site["phone"])
    directions = popup.get_by_role("link", name="Directions")
    assert f"{site['lat']},{site['lon']}" in directions.get_attribute("href")
    assert marker.evaluate("e => e === document.activeElement")  # keyboard users land on it
    assert page.get_by_role("button", name="Close", exact=True).count() == 1


def test_a_group_opens_with_the_keyboard(demo, open_page):
    page = ready(open_page(demo.http + "/", **DESKTOP))
    group = page.locator(".ss-group").first
    assert "Zoom in" in group.get_attribute("aria-label")
    handle = group.element_handle()
    group.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("e => !e.isConnected", arg=handle)  # zoomed in: groups re-formed


def space_now(site: dict, boxes: list[str], query: str) -> bool:
    """The page's "have space now" is the API's has_space on counts to act on only (fresh or
    aging): a stale count's free beds are no promise."""
    if "have space now" not in boxes:
        return True
    sector = re.search(r"sector=(\w+)", query)
    return any(
        p["freshness"] in ("fresh", "aging")
        and p["available"]
        and (sector is None or p["sector"] == sector.group(1))
        for p in site["programs"]
    )


def test_filters_pick_the_same_sites_as_the_api(demo, open_page):
    page = ready(open_page(demo.http + "/", **DESKTOP))
    page.get_by_role("button", name="Filters").click()
    cases = [
        (["Women"], "?sector=women"),
        (["have space now"], "?has_space=true"),
        (["Men", "have space now"], "?sector=men&has_space=true"),
        (["are accepting people"], "?accepting=true"),
        (["Pets"], "?pets_allowed=true"),
        (["Wheelchair access", "Couples"], "?wheelchair_accessible=true&couples_allowed=true"),
    ]
    total = len(shelters(demo))
    for boxes, query in cases:
        for label in boxes:
            page.get_by_label(label, exact=True).check()
        expected = {s["id"] for s in shelters(demo, query) if space_now(s, boxes, query)}
        assert 0 < len(expected) < total, query  # a filter that keeps all or none proves nothing
        page.wait_for_function(
            "t => document.querySelector('#ss-status').textContent === t",
            arg=f"{len(expected)} of {total} shelters shown",
        )
        assert set(listed_ids(page)) == expected, query
        assert page.locator("#ss-filter-count").inner_text() == f"{len(boxes)} on"
        page.get_by_role("button", name="Clear filters").click()
        page.wait_for_function(
            "t => document.querySelector('#ss-status').textContent === t",
            arg=f"{total} of {total} shelters shown",
        )
    # with a sector chosen, numbers are that sector's: a site's men's beds do not count
    page.get_by_label("Women", exact=True).check()
    listed_ids(page)
    for site in shelters(demo, "?sector=women"):
        women = [p for p in site["programs"] if p["sector"] == "women"]
        free = sum(p["available"] for p in women if p["available"] is not None)
        summary = page.locator(f'.ss-entry[data-site-id="{site["id"]}"] .ss-summary').inner_text()
        if all(p["available"] is not None for p in women):
            assert f"{free} of {sum(p['capacity'] for p in women)} free" in summary


def test_chosen_filters_come_back_on_the_next_visit(demo, open_page):
    page = ready(open_page(demo.http + "/", **DESKTOP))
    page.get_by_role("button", name="Filters").click()
    page.get_by_label("Women", exact=True).check()
    page.get_by_label("have space now", exact=True).check()
    page.reload()
    ready(page)
    assert page.locator("#ss-filter-count").inner_text() == "2 on"
    assert page.get_by_label("Women", exact=True).is_checked()  # was lost: saved as "sectors"
    assert page.get_by_label("have space now", exact=True).is_checked()


def test_list_sorts_by_free_beds_then_by_distance_near_me(demo, open_page):
    page = ready(
        open_page(demo.http + "/", geolocation=GEO, permissions=["geolocation"], **DESKTOP)
    )
    sites = {s["id"]: s for s in shelters(demo)}
    order = listed_ids(page)
    statuses = [entry_status(page, i) for i in order]
    rank = {"space": 0, "few": 0, "full": 1, "stale": 2, "offline": 3, "unknown": 3}
    assert [rank[s] for s in statuses] == sorted(rank[s] for s in statuses)
    current = [sites[i]["available"] for i, s in zip(order, statuses, strict=True) if rank[s] == 0]
    assert current == sorted(current, reverse=True)

    page.get_by_role("button", name="Near me").click()
    page.wait_for_function("() => document.querySelector('#ss-sort').value === 'distance'")
    near = shelters(demo, f"?near={GEO['latitude']},{GEO['longitude']}")
    page.wait_for_function("() => document.querySelectorAll('.ss-distance').length > 0")
    distance = {s["id"]: s["distance_km"] for s in near}
    # nearest first among counts to act on, then full, then old and missing counts
    in_order = [(rank[entry_status(page, i)], distance[i]) for i in listed_ids(page)]
    assert len(in_order) == len(near) and in_order == sorted(in_order)
    assert in_order[0][0] == 0 and in_order[-1][0] == 3
    near = [s for s in near if rank[entry_status(page, s["id"])] == 0]
    first = page.locator("#ss-list .ss-entry").first.locator(".ss-distance").inner_text()
    assert abs(float(re.match(r"([\d.]+) km away", first).group(1)) - near[0]["distance_km"]) < 0.06
    assert "Your location stays on this device" in page.locator("#ss-status").inner_text()


def test_refused_location_explains_and_keeps_the_free_beds_order(demo, open_page):
    page = ready(open_page(demo.http + "/", **DESKTOP))  # no permission granted
    page.get_by_role("button", name="Near me").click()
    page.wait_for_function(
        "() => document.querySelector('#ss-status').textContent.includes('refused')"
    )
    assert page.locator("#ss-sort").input_value() == "free"


def test_stale_offline_and_never_counted_sites_look_unlike_current_ones(demo, open_page):
    page = ready(open_page(demo.http + "/", **DESKTOP))
    sites = {s["id"]: s for s in shelters(demo)}
    listed_ids(page)
    looks = {"stale": ("dashed", "count may be out of date"), "offline": ("dotted", "desk offline")}
    looks["never"] = ("dotted", "no count yet")
    for kind, (border, words) in looks.items():
        site = sites[demo.kinds[kind][0]]
        status = "unknown" if kind == "never" else kind
        assert entry_status(page, site["id"]) == status
        marker = show_on_map(page, site["id"])
        assert marker.get_attribute("data-status") == status
        assert marker.inner_text().endswith("?")  # the number is not promised
        assert words in marker.get_attribute("aria-label")
        assert marker.evaluate("e => getComputedStyle(e).borderTopStyle") == border
        grey = marker.evaluate("e => getComputedStyle(e).backgroundColor")
        assert grey == "rgb(229, 231, 235)"
        page.keyboard.press("Escape")
        page.locator(".leaflet-popup").wait_for(state="detached")
        assert marker.evaluate("e => e === document.activeElement")
    legend = page.locator("#ss-legend").inner_text()
    assert "old count" in legend and "offline / no count" in legend


def test_ages_are_reworded_as_time_passes(demo, open_page):
    page = ready(open_page(demo.http + "/", fake_clock=True, service_workers="block", **DESKTOP))
    age = page.locator("#ss-list time.ss-ago").first
    minutes = int(re.search(r"(\d+) minute", age.inner_text()).group(1))
    # No answer from the server meanwhile (a minute's silence makes the page reconnect, and an
    # answer would set its clock back to the server's, which the fake clock does not move).
    page.route("**/api/v1/**", lambda route: route.abort())
    page.clock.fast_forward("01:00")  # the page re-words ages every 30 s
    assert age.inner_text() == f"updated {minutes + 1} minutes ago"


def test_french_from_the_browser_and_remembered_when_chosen(demo, open_page):
    page = ready(open_page(demo.http + "/", locale="fr-CA", **DESKTOP))
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("#ss-list-heading").inner_text() == "Refuges"
    assert page.get_by_role("button", name="Près de moi").is_visible()
    entry = page.locator("#ss-list .ss-entry").first.inner_text()
    assert "libres sur" in entry and "mis à jour il y a" in entry
    full = page.locator('.ss-marker[data-status="full"]')
    if full.count():
        assert full.first.inner_text() == "COMPLET"
    page.get_by_role("link", name="English").click()
    ready(page)
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(demo.http + "/")  # the browser still prefers French: the choice is remembered
    assert page.locator("html").get_attribute("lang") == "en"


def test_phone_one_hand_map_and_list(demo, open_page):
    page = ready(open_page(demo.http + "/", geolocation=GEO, permissions=["geolocation"], **PHONE))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.locator(".folium-map").is_visible()
    assert not page.locator("#ss-list").is_visible()
    for target in page.locator("button:visible, .ss-langs a").all():
        assert target.bounding_box()["height"] >= 44, target.inner_text()
    save_screenshot(page, "phone-map")

    page.get_by_role("button", name="List").click()
    assert page.get_by_role("button", name="List").get_attribute("aria-pressed") == "true"
    assert page.locator("#ss-list").is_visible()
    assert page.locator(".folium-map").evaluate("e => getComputedStyle(e).visibility") == "hidden"
    page.get_by_role("button", name="Near me").click()
    page.wait_for_function("() => document.querySelectorAll('.ss-distance').length > 0")
    save_screenshot(page, "phone-list")

    first = listed_ids(page)[0]
    show_on_map(page, first)
    assert page.locator(".folium-map").is_visible()
    page.locator(".leaflet-popup-content").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    save_screenshot(page, "phone-popup")
    page.get_by_role("button", name="List").click()
    page.reload()  # the chosen view is remembered
    ready(page)
    assert page.get_by_role("button", name="List").get_attribute("aria-pressed") == "true"
