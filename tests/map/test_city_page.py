"""The city staff page: what needs no key shows at once; history and the fleet need a city key."""

import httpx

from tests.map.conftest import DESKTOP, save_screenshot


def test_without_a_key_it_shows_now_and_stale_sites_and_asks_for_a_key(demo, open_page):
    page = open_page(demo.http + "/city", **DESKTOP)
    stale = page.locator("#ss-stale tbody tr")
    stale.first.wait_for()
    expected = set(demo.kinds["stale"] + demo.kinds["offline"] + demo.kinds["never"])
    in_order = stale.evaluate_all("rs => rs.map(r => [Number(r.dataset.siteId), r.dataset.status])")
    rows = dict(in_order)
    assert set(rows) == expected
    assert {rows[i] for i in demo.kinds["stale"]} == {"stale"}
    assert {rows[i] for i in demo.kinds["offline"]} == {"offline"}
    assert in_order[0][1] == "unknown"  # oldest first: those that never counted lead

    summary = httpx.get(demo.http + "/api/v1/summary").json()
    tiles = page.locator("#ss-now .ss-tiles li")
    tiles.first.wait_for()
    assert tiles.count() == len(summary["sectors"]) + 1
    assert tiles.last.locator(".ss-big").inner_text() == f"{summary['total']['available']:,}"

    for part in ("#ss-sectors", "#ss-fleet"):
        note = page.locator(f"{part} .ss-note")
        page.wait_for_function(
            "sel => document.querySelector(sel).textContent.includes('city staff key')",
            arg=f"{part} .ss-note",
        )
        assert note.is_visible()
    assert page.locator("svg.ss-svg").count() == 0


def test_with_a_city_key_it_charts_history_and_the_fleet(demo, open_page):
    page = open_page(demo.http + "/city", **DESKTOP)
    page.get_by_label("API key").fill(demo.city_key)
    page.get_by_role("button", name="Use this key").click()
    sectors = page.locator("#ss-sectors svg.ss-svg")
    sectors.wait_for()
    site_chart = page.locator("#ss-site svg.ss-svg")
    site_chart.wait_for()
    fleet = page.locator("#ss-fleet tbody tr")
    fleet.first.wait_for()
    save_screenshot(page, "city")

    summary = httpx.get(demo.http + "/api/v1/summary").json()
    assert sectors.locator("path.ss-line").count() == len(summary["sectors"])
    legend = page.locator("#ss-sectors .ss-chart-legend").inner_text()
    assert "Men" in legend and "Women" in legend
    page.locator("#ss-sectors summary").click()
    assert page.locator("#ss-sectors table tbody tr").count() > 24  # a week, hour by hour
    page.get_by_label("Time range").select_option("month")
    page.wait_for_function(
        "() => document.querySelectorAll('#ss-sectors table tbody tr').length <= 31"  # by day now
    )

    assert site_chart.locator("path.ss-line").count() >= 2  # occupied and capacity
    assert "occupied" in page.locator("#ss-site .ss-chart-legend").inner_text()

    devices = httpx.get(
        demo.http + "/api/v1/devices", headers={"Authorization": f"Bearer {demo.city_key}"}
    ).json()["items"]
    not_online = {d["id"] for d in devices if d["status"] != "online"}
    shown = set(fleet.evaluate_all("rs => rs.map(r => r.dataset.deviceId)"))
    assert not_online <= shown
    bar = page.locator("#ss-fleet .ss-bar-keys").inner_text()
    online = sum(d["status"] == "online" for d in devices)
    assert f"online: {online}" in bar

    page.reload()  # the key lasts for this tab
    page.locator("#ss-sectors svg.ss-svg").wait_for()
    page.get_by_role("button", name="Forget key").click()
    assert page.get_by_label("API key").is_visible()


def test_a_wrong_key_is_refused_in_words(demo, open_page):
    page = open_page(demo.http + "/city", **DESKTOP)
    page.get_by_label("API key").fill("not-a-key")
    page.get_by_role("button", name="Use this key").click()
    page.wait_for_function(
        "() => document.querySelector('#ss-fleet .ss-note').textContent"
        ".includes('not accepted (401)')"
    )


def test_a_chosen_range_with_the_end_before_the_start_is_explained(demo, open_page):
    page = open_page(demo.http + "/city", **DESKTOP)
    page.get_by_label("API key").fill(demo.city_key)
    page.get_by_role("button", name="Use this key").click()
    page.locator("#ss-site svg.ss-svg").wait_for()
    page.get_by_label("From", exact=True).fill("2024-03-10")
    page.get_by_label("To", exact=True).fill("2024-03-01")
    page.get_by_role("button", name="Show").click()
    assert page.locator("#ss-site .ss-note").inner_text() == "The start must be before the end."
