"""WCAG 2.1 AA by axe-core in Chromium: no serious or critical violation on any view.

axe-core comes from the npm registry (package.json devDependencies; `npm ci` installs it).
"""

from pathlib import Path

import httpx
import pytest

from tests.map.conftest import DESKTOP, PHONE

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def violations(page) -> list[str]:
    """axe's serious and critical findings on the page as it is now, one line each."""
    if not AXE.exists():
        pytest.fail(f"axe-core not found at {AXE}: run `npm ci` (it is a devDependency)")
    # evaluated, not added as a <script>: the page's Content-Security-Policy refuses those
    page.evaluate(AXE.read_text())
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in BLOCKING
    ]


def test_outreach_map_desktop_first_view_then_a_popup_open(demo, open_page):
    page = open_page(demo.http + "/", **DESKTOP)
    page.locator("#ss-list .ss-entry").first.wait_for()
    assert page.locator(".ss-group").count() and page.locator(".ss-marker").count()
    assert violations(page) == []
    page.get_by_role("button", name="Filters").click()
    page.locator("#ss-list .ss-show").first.click()
    page.locator(".leaflet-popup-content").wait_for()
    # Leaflet fades popups in; axe would judge the colours half-way through the fade
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'"
    )
    assert violations(page) == []


def test_outreach_list_on_a_phone_in_french(demo, open_page):
    page = open_page(demo.http + "/", locale="fr-CA", **PHONE)
    page.locator("#ss-list .ss-entry").first.wait_for(state="attached")
    page.get_by_role("button", name="Liste").click()
    page.locator("#ss-list .ss-info summary").first.click()
    assert violations(page) == []


def test_outreach_map_signed_in_with_confidential_entries(demo, open_page):
    page = open_page(demo.http + "/", **DESKTOP)
    page.locator("#ss-list .ss-entry").first.wait_for()
    page.get_by_role("button", name="Outreach sign-in").click()
    assert violations(page) == []  # the sign-in form open
    page.get_by_label("Outreach key").fill(demo.outreach_key)
    page.get_by_role("button", name="Sign in").click()
    keyed = httpx.get(
        demo.http + "/api/v1/shelters", headers={"Authorization": f"Bearer {demo.outreach_key}"}
    ).json()["items"]
    page.wait_for_function(
        "t => document.querySelector('#ss-list-count').textContent === t",
        arg=f"{len(keyed)} of {len(keyed)} shelters shown",
    )
    more = page.locator("#ss-more")
    while more.is_visible():  # the demo's confidential sites have no count yet: listed last
        more.click()
    page.locator("#ss-list .ss-confidential").first.wait_for()
    assert violations(page) == []


def test_city_page_without_and_with_a_key(demo, open_page):
    page = open_page(demo.http + "/city", **DESKTOP)
    page.locator("#ss-stale table").wait_for()
    assert violations(page) == []
    page.get_by_label("API key").fill(demo.city_key)
    page.get_by_role("button", name="Use this key").click()
    page.locator("#ss-sectors svg.ss-svg").wait_for()
    page.locator("#ss-fleet table").wait_for()
    page.locator("#ss-sectors summary").click()  # the chart's numbers as a table
    assert violations(page) == []
