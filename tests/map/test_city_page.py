"""The city staff page: what needs no key shows at once; history and the fleet need a city key."""

from datetime import timedelta

import httpx
from sqlmodel import Session

from server.auth import issue_key
from server.models import Device, Role, Site, utcnow
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


CHART = """([title, series]) => {
  const box = document.createElement('div');
  box.innerHTML = ShelterSignal.charts.lineChart(title, series);
  document.body.append(box);
  const labels = [...box.querySelectorAll('svg text[text-anchor]')]
    .filter(e => e.getAttribute('y') === '238').map(e => e.textContent);  // the time axis
  const dots = [...box.querySelectorAll('circle.ss-point')]
    .map(c => [Number(c.getAttribute('cx')), Number(c.getAttribute('cy'))]);
  box.remove();
  return { labels, dots };
}"""


def test_charts_show_a_single_point_and_never_repeat_an_axis_label(demo, open_page):
    page = open_page(demo.http + "/city", **DESKTOP)
    page.locator("#ss-stale table").wait_for()
    now = page.evaluate("Date.now()")
    hour = 3600 * 1000
    one = page.evaluate(CHART, ["one", [{"name": "Men", "points": [[now, 12]], "style": 0}]])
    assert len(one["dots"]) == 1  # drawn: a line of one point would be nothing
    x, _y = one["dots"][0]
    assert 48 < x < 640 - 16  # inside the plot, not on its edge
    assert len(set(one["labels"])) == len(one["labels"]) == 5
    for span in (2 * hour, 24 * hour, 7 * 24 * hour, 30 * 24 * hour, 60 * 1000):
        points = [[now - span, 3], [now, 5]]
        chart = page.evaluate(CHART, ["span", [{"name": "Men", "points": points, "style": 0}]])
        assert len(set(chart["labels"])) == len(chart["labels"]) == 5, (span, chart["labels"])


def test_web_dials_are_judged_by_their_last_save(small_system, open_page):
    stack = small_system(tiles_url="")
    with Session(stack.system.engine) as session:
        site = Site(name="Web House", lat=43.65, lon=-79.38)
        session.add(site)
        session.flush()
        # web dials never send a status: theirs stays "unknown" whatever they save
        saved = utcnow() - timedelta(minutes=10)
        session.add(Device(id="web-saves", site_id=site.id, last_seen=saved))
        session.add(Device(id="web-never", site_id=site.id))
        _row, key = issue_key(session, "city page web dials", Role.city)
        session.commit()
    page = open_page(stack.http + "/city", **DESKTOP)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Use this key").click()
    rows = page.locator("#ss-fleet tbody tr")
    rows.first.wait_for()
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.deviceId)") == ["web-never"]
    assert "web dial, never saved" in rows.first.inner_text()
    bar = page.locator("#ss-fleet .ss-bar-keys").inner_text()
    assert "online: 1" in bar and "never connected: 1" in bar
