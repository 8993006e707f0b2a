"""With no signal the map still opens: the service worker keeps the page, the last public list
and the tiles it has seen, and the page shows those numbers with their age and says offline."""

import re

from tests.map.conftest import PHONE
from tests.map.seeding import demo_city
from tests.map.test_tiles import FEW_SITES, LOCAL_TILE
from tests.support.waiting import wait_until

KEPT = """async () => {
  const data = await caches.open('ss-data');
  const tiles = (await (await caches.open('ss-shell-1')).keys())
    .filter(r => r.url.includes('layers.png'));
  return Boolean(await data.match('/api/v1/shelters')) && tiles.length > 0;
}"""


# An age as the page words it (map/static/text.js); between the two readings one may cross
# a boundary ("4 hours ago" then "5 hours ago").
AGE = r"updated (just now|\d+ (minute|hour|day)s? ago)"


def without_ages(text: str) -> str:
    return re.sub(AGE, "updated ... ago", text)


def test_opened_offline_it_shows_the_last_numbers_with_their_age(small_system, open_page):
    stack = small_system(tiles_url=LOCAL_TILE)
    demo_city(stack.system.engine, sites=FEW_SITES)
    page = open_page(stack.http + "/", **PHONE)
    page.get_by_role("button", name="List").click()
    page.locator("#ss-list .ss-entry").first.wait_for()
    online = page.locator("#ss-list").inner_text()
    wait_until(lambda: page.evaluate(KEPT), message="the list and a tile kept")

    page.context.set_offline(True)
    page.reload()  # a phone with no signal opens the page
    page.locator("#ss-list .ss-entry").first.wait_for()
    offline = page.locator("#ss-list").inner_text()
    assert re.search(AGE, offline)  # each with its age, still true
    assert without_ages(offline) == without_ages(online)  # the same numbers
    page.wait_for_function(
        "() => document.querySelector('#ss-connection').dataset.state === 'offline'"
    )
    assert page.locator("#ss-connection").inner_text().startswith("Offline: numbers from")
    page.get_by_role("button", name="Map", exact=True).click()
    page.locator("img.leaflet-tile-loaded").first.wait_for()  # the tiles it has
    assert page.locator(".ss-marker, .ss-group").count() > 0
