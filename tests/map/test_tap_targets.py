"""Every control on the outreach map, its list and popups and the city page is at least 44 by
44 px, on a phone and on a desktop (an outreach worker's thumb, a volunteer's unsteady hand).
The web dial has its own check in tests/server/webdial/test_dial_page.py."""

from tests.map.conftest import DESKTOP, PHONE
from tests.support.tap_targets import assert_big_enough


def test_map_popup_filters_and_sign_in_on_a_phone(demo, open_page):
    page = open_page(demo.http + "/", **PHONE)
    page.locator("#ss-list .ss-entry").first.wait_for(state="attached")
    assert_big_enough(page)  # header, toolbar, zoom, groups, attribution
    page.locator(".ss-group").first.click()  # zoomed in: shelters' own markers
    marker = page.locator(".ss-marker").first
    marker.wait_for()
    assert_big_enough(page)
    marker.click()
    page.locator(".leaflet-popup-content").wait_for()
    assert_big_enough(page)  # the popup: its close button, call, directions
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Filters").click()
    page.get_by_role("button", name="Outreach sign-in").click()
    assert_big_enough(page)


def test_list_on_a_phone_with_details_open(demo, open_page):
    page = open_page(demo.http + "/", **PHONE)
    page.locator("#ss-list .ss-entry").first.wait_for(state="attached")
    page.get_by_role("button", name="List").click()
    for summary in page.locator("#ss-list .ss-info summary").all()[:5]:
        summary.click()
    assert_big_enough(page)


def test_map_on_a_desktop(demo, open_page):
    page = open_page(demo.http + "/", **DESKTOP)
    page.locator("#ss-list .ss-entry").first.wait_for()
    page.get_by_role("button", name="Filters").click()
    page.locator("#ss-list .ss-show").first.click()
    page.locator(".leaflet-popup-content").wait_for()
    assert_big_enough(page)


def test_city_page_with_a_key(demo, open_page):
    page = open_page(demo.http + "/city", **PHONE)
    page.locator("#ss-stale table").wait_for()
    assert_big_enough(page)
    page.get_by_label("API key").fill(demo.city_key)
    page.get_by_role("button", name="Use this key").click()
    page.locator("#ss-sectors svg.ss-svg").wait_for()
    page.locator("#ss-fleet table").wait_for()
    for summary in page.locator("summary").all():
        summary.click()
    assert_big_enough(page)
