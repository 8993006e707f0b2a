"""The map's furniture keeps out of the way: the Map/List toggle only where it does something,
the legend clear of the attribution, the tile notice off the markers, and a phone's list that
shows several shelters a screen."""

from tests.map.conftest import PHONE
from tests.map.test_outreach_map import ready

WIDE = {"viewport": {"width": 1366, "height": 768}}  # a common laptop screen
ENTRIES_A_PHONE_SCREEN = 4  # was about 2: a worker compares shelters without scrolling


def overlap(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def test_wide_screens_show_map_and_list_without_a_toggle(demo, open_page):
    page = ready(open_page(demo.http + "/", **WIDE))
    assert page.get_by_role("button", name="List").is_hidden()
    assert page.locator("#ss-list").is_visible() and page.locator(".folium-map").is_visible()


def test_on_a_phone_the_legend_keeps_clear_of_the_attribution(demo, open_page):
    page = ready(open_page(demo.http + "/", **PHONE))
    legend = page.locator("#ss-legend").bounding_box()
    credit = page.locator(".leaflet-control-attribution").bounding_box()
    assert legend and credit and not overlap(legend, credit)


def test_a_phone_list_shows_several_shelters_a_screen(demo, open_page):
    page = ready(open_page(demo.http + "/", **PHONE))
    page.get_by_role("button", name="List").click()
    page.locator("#ss-list-heading").scroll_into_view_if_needed()
    screen = PHONE["viewport"]["height"]
    tops = page.eval_on_selector_all(
        "#ss-list .ss-entry", "es => es.map(e => e.getBoundingClientRect().bottom)"
    )
    # scrolled so the list starts at the top of the screen: whole entries on one screen
    first_top = page.locator("#ss-list .ss-entry").first.bounding_box()["y"]
    whole = [bottom for bottom in tops if bottom - first_top <= screen]
    assert len(whole) >= ENTRIES_A_PHONE_SCREEN
