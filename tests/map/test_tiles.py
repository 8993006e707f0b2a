"""The map's background tiles come from a configurable URL; without them the page still works."""

from tests.map.conftest import DESKTOP
from tests.map.seeding import demo_city
from tests.map.test_layout import overlap
from tests.support.services import free_port

FEW_SITES = 12
# A tile URL the server itself answers: any PNG will do to prove tiles load and are shown.
LOCAL_TILE = "/static/vendor/leaflet/images/layers.png?z={z}&x={x}&y={y}"


def test_unreachable_tiles_leave_markers_and_list_working(small_system, open_page):
    nothing_there = f"http://127.0.0.1:{free_port()}/{{z}}/{{x}}/{{y}}.png"
    stack = small_system(tiles_url=nothing_there)
    demo_city(stack.system.engine, sites=FEW_SITES)
    page = open_page(stack.http + "/", **DESKTOP)
    notice = page.locator("#ss-tiles-notice")
    notice.wait_for()
    assert "could not load" in notice.inner_text()
    # in the panel beside (or on a phone, above) the map, not over it: it never hides a marker
    assert not overlap(notice.bounding_box(), page.locator(".folium-map").bounding_box())
    # the tile failure can be noticed before the list has arrived: wait for it, then look
    page.locator(".ss-marker, .ss-group").first.wait_for()
    assert page.locator(".ss-marker, .ss-group").count() > 0
    page.locator("#ss-list .ss-entry").first.wait_for()
    assert page.locator("#ss-list .ss-entry").count() > 0
    page.locator("#ss-list .ss-show").first.click()  # markers and popups still work
    page.locator(".leaflet-popup-content").wait_for()


def test_tiles_from_the_configured_url_are_shown(small_system, open_page):
    stack = small_system(tiles_url=LOCAL_TILE)
    demo_city(stack.system.engine, sites=FEW_SITES)
    page = open_page(stack.http + "/", **DESKTOP)
    page.locator("img.leaflet-tile-loaded").first.wait_for()
    assert "layers.png" in page.locator("img.leaflet-tile").first.get_attribute("src")
    assert page.locator("#ss-tiles-notice").is_hidden()
