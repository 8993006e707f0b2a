"""With no signal the map still opens: the service worker keeps the page, the last public list
(as the live page last showed it) and the tiles it has seen, and the page shows those numbers
with their age and says offline."""

import re
import uuid

from firmware.dialcore import protocol
from tests.map.conftest import LIVE, PHONE
from tests.map.seeding import demo_city
from tests.map.test_tiles import FEW_SITES, LOCAL_TILE
from tests.support.waiting import wait_until

# Kept: the list, a tile, and the page with every script and style it loaded (the worker
# fetches those after the page, together: a tile may be kept before the page itself is).
KEPT = """async () => {
  const data = await caches.open('ss-data');
  const shell = new Set((await (await caches.open('ss-shell-1')).keys()).map(r => r.url));
  const code = performance.getEntriesByType('resource').map(e => e.name)
    .filter(url => /^\\/static\\/.*\\.(js|css)$/.test(new URL(url).pathname));
  const tiles = [...shell].filter(url => url.includes('layers.png'));
  return Boolean(await data.match('/api/v1/shelters')) && tiles.length > 0
    && [location.href, ...code].every(url => shell.has(url));
}"""


# The sites in a first page of the list (map/static/live.js asks for one in a big city)
FIRST_PAGE = """async () =>
  (await (await fetch('/api/v1/shelters?order=free&limit=1')).json()).items.length"""
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
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    assert page.evaluate(FIRST_PAGE) == 1  # a big city's first page is never kept as the list

    page.context.set_offline(True)
    page.reload()  # a phone with no signal opens the page
    page.locator("#ss-list .ss-entry").first.wait_for()
    offline = page.locator("#ss-list").inner_text()
    assert page.evaluate(FIRST_PAGE) == page.locator("#ss-list .ss-entry").count()  # the kept
    assert re.search(AGE, offline)  # each with its age, still true
    assert without_ages(offline) == without_ages(online)  # the same numbers
    page.wait_for_function(
        "() => document.querySelector('#ss-connection').dataset.state === 'offline'"
    )
    assert page.locator("#ss-connection").inner_text().startswith("Offline: numbers from")
    page.get_by_role("button", name="Map", exact=True).click()
    page.locator("img.leaflet-tile-loaded").first.wait_for()  # the tiles it has
    assert page.locator(".ss-marker, .ss-group").count() > 0


KEEP_MS = 60_000  # live.js: how often at most the offline copy follows the page
KEPT_OCCUPIED = """async () => {
  const kept = await (await caches.open('ss-data')).match('/api/v1/shelters');
  return kept ? (await kept.json()).items.map(s => s.programs[0].occupied) : null;
}"""


def test_the_offline_copy_follows_what_the_live_page_shows(small_system, open_page):
    stack = small_system(tiles_url="")
    device_id = f"kept-{uuid.uuid4().hex[:6]}"
    stack.add_site(device_id, capacity=20, name="Gap House")
    topic = protocol.topic(device_id, "state")
    stack.publish(topic, protocol.encode_state(1, 1, "occupied", 0, [(5, 20)]))
    page = open_page(stack.http + "/", fake_clock=True, **PHONE)
    page.get_by_role("button", name="List").click()
    entry = page.locator(".ss-entry", has_text="Gap House")
    entry.filter(has_text="15 of 20").wait_for()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.wait_for_function(LIVE)  # the event stream is open: the change comes through it
    wait_until(lambda: page.evaluate(KEPT_OCCUPIED) == [5], message="the first list kept")

    stack.publish(topic, protocol.encode_state(1, 2, "occupied", 0, [(8, 20)]))  # an event
    entry.filter(has_text="12 of 20").wait_for()
    page.clock.run_for(KEEP_MS)  # at most once a minute: a busy evening brings one a second
    wait_until(lambda: page.evaluate(KEPT_OCCUPIED) == [8], message="the kept copy follows")
    page.context.set_offline(True)
    page.reload()  # later, in a dead zone: the numbers the page last showed, not the first
    page.get_by_role("button", name="List").click()
    entry.filter(has_text="12 of 20").wait_for()
