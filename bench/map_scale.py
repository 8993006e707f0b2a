"""The outreach map at 10,000 shelters on a throttled phone, against the same page at a
city's size (100 shelters), in one run.

    .venv/bin/python -m bench.map_scale [--quick] [--sites 10000] [--loads 3]

The server runs as `shelter-signal run` starts it (SQLite, the embedded broker, default
settings, no map tiles). Headless Chromium opens the map with the phone profile of issue 13:
Chrome's network emulation at 400 kbit/s each way and 400 ms latency, a 390 x 844 touch
screen, an empty cache. Three figures, each the median of --loads page loads:

- first view: bytes over the network (compressed, as sent) from navigation until the markers
  and the list are shown, without tiles (the page and every script, style and answer);
- markers: ms from navigation until the first marker or group is on the map (as the page
  itself notes it: FIRST_MARKER);
- an hour of changes: the bytes the event stream carries for one changed shelter, as a page
  receives it, times CHANGES_PER_HOUR, plus an hour of keepalives and of the totals, which
  the page asks again after changes (at most every 30 s: map/static/live.js); and in a city
  too big for the page to load its whole list at once, of the server's groups of its view,
  asked again the same way.

The goals at 10,000 shelters (docs/map.md, Speed and weight): a first view of at most
300 KB, markers within 3 s, at most 1 MB an hour.

The shelters are invented like the demo's: an address, an intake phone, intake hours,
eligibility and one or two counted programs each, spread over a city-sized box.
"""

import random
import re
import statistics
import time
import uuid
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
from sqlalchemy import insert, update
from sqlmodel import Session

from bench._common import command_line, load, print_header, table
from server.models import CurrentState, Program, Reading, Sector, Site, utcnow
from tests.support.services import chromium_launch_options
from tests.support.stack import Stack, settings_for

CITY = 100  # the baseline: about Toronto's number of shelters
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
THROTTLE = {  # Chrome DevTools Protocol Network.emulateNetworkConditions: bytes per second
    "offline": False,
    "latency": 400,
    "downloadThroughput": 400_000 / 8,
    "uploadThroughput": 400_000 / 8,
}
# One change a second, city-wide: at 10,000 shelters each changes about every 2.8 hours (a
# desk confirms its count every three hours, the demo's pace), a busy evening on the map.
CHANGES_PER_HOUR = 3600
CHANGES = 40  # changes measured on the event stream
QUICK_CHANGES = 5  # --quick: and its loads are not throttled (a smoke run, no numbers)
KEEPALIVE_S = 15  # SIGNAL_EVENTS_KEEPALIVE_SECONDS's default
MARKER = ".ss-marker, .ss-group"
# When the first marker enters the page, noted by the page itself: performance.now() read
# after Playwright saw it came 0.1 to 0.25 s late (its polling and round trip; measured
# unthrottled on 2026-12-04), and those runs' figures carried that delay.
FIRST_MARKER = f"""
new MutationObserver((changes, observer) => {{
  if (!document.querySelector({MARKER!r})) return;
  window.benchFirstMarker = performance.now();
  observer.disconnect();
}}).observe(document, {{ subtree: true, childList: true }});
"""
LIVE_JS = (Path(__file__).parents[1] / "map" / "static" / "live.js").read_text()
WHOLE_AT_ONCE = int(re.search(r"const WHOLE_AT_ONCE = (\d+)", LIVE_JS)[1])
GAP_S = int(re.search(r"const TOTALS_MIN_GAP_MS = (\d+)", LIVE_JS)[1]) / 1000
GOALS = {"first view (KB)": 300, "markers (ms)": 3000, "an hour of changes (KB)": 1000}
STREETS = ("King St W", "Queen St E", "Dundas St W", "Bloor St W", "Yonge St", "Jarvis St")
HOURS = ("24/7", "Mon-Fri 09:00-17:00", "Daily 19:00-07:00", None)


def seed(engine, count: int, rng: random.Random) -> list[int]:
    """`count` shelters with one or two counted programs each, in bulk; their program ids."""
    now = utcnow()
    sites, programs, readings, current = [], [], [], []
    for n in range(1, count + 1):
        sites.append(
            {
                "id": n,
                "name": f"Shelter {n:05d}",
                "address": f"{rng.randint(10, 2000)} {rng.choice(STREETS)}",
                "city": "Toronto",
                "lat": round(rng.uniform(43.58, 43.85), 5),
                "lon": round(rng.uniform(-79.64, -79.12), 5),
                "phone": f"416-555-{rng.randint(100, 199):04d}",
                "intake_hours": rng.choice(HOURS),
                "pets_allowed": rng.random() < 0.3,
                "wheelchair_accessible": rng.random() < 0.6,
                "confidential": n % 10 == 0,  # as in the demo: every tenth
            }
        )
        for sector in rng.sample(list(Sector), rng.choice((1, 1, 2))):
            program_id = len(programs) + 1
            capacity = rng.choice((10, 15, 20, 24, 30, 40, 60))
            occupied = rng.randint(0, capacity)
            at = now - timedelta(minutes=rng.randint(0, 240))  # fresh, aging and stale
            programs.append(
                {
                    "id": program_id,
                    "site_id": n,
                    "name": f"Shelter {n:05d} {sector.value}",
                    "sector": sector,
                    "capacity": capacity,
                }
            )
            count_row = {"boot": 1, "seq": 1, "occupied": occupied, "capacity": capacity}
            readings.append(
                {"id": program_id, "program_id": program_id, "channel": 0, "source": "import"}
                | count_row
                | {"received_at": at}
            )
            current.append(
                {"program_id": program_id, "reading_id": program_id, "updated_at": at} | count_row
            )
    with Session(engine) as session:
        for model, rows in ((Site, sites), (Program, programs), (Reading, readings)):
            session.execute(insert(model), rows)
        session.execute(insert(CurrentState), current)
        session.commit()
    return [p["id"] for p in programs if not sites[p["site_id"] - 1]["confidential"]]


def page_load(browser, url: str, throttle: bool) -> tuple[int, float]:
    """One load with an empty cache, throttled unless `throttle` is false: (bytes of the
    first view, ms to markers)."""
    context = browser.new_context(**PHONE)
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        if throttle:
            cdp.send("Network.emulateNetworkConditions", THROTTLE)
        sizes: dict[str, int] = {}  # request id -> bytes received, compressed
        cdp.on(
            "Network.loadingFinished",
            lambda e: sizes.__setitem__(e["requestId"], int(e["encodedDataLength"])),
        )
        page.add_init_script(FIRST_MARKER)
        page.goto(url, wait_until="commit", timeout=300_000)
        page.wait_for_selector(MARKER, timeout=300_000)
        markers_ms = page.evaluate("() => window.benchFirstMarker")
        page.wait_for_selector("#ss-list .ss-entry", state="attached", timeout=300_000)
        page.wait_for_load_state("networkidle", timeout=300_000)  # the event stream is not idle
        return sum(sizes.values()), markers_ms  # ...nor finished: it is not counted here
    finally:
        context.close()


def change_bytes(stack: Stack, program_ids: list[int], rng: random.Random, changes: int) -> float:
    """Bytes the event stream carries per changed shelter, as a browser asks for it."""
    headers = {"Accept": "text/event-stream", "Accept-Encoding": "gzip, deflate, br"}
    received = 0
    with httpx.stream("GET", stack.http + "/api/v1/events", headers=headers, timeout=60) as r:
        chunks = r.iter_raw()  # as sent: compressed if the server compresses
        received += len(next(chunks))  # the `retry:` line: once a connection
        opened = received
        with Session(stack.system.engine) as session:
            for number in range(changes):
                program_id = rng.choice(program_ids)
                state = session.get(CurrentState, program_id)
                reading_id = 10_000_000 + number
                reading = Reading(
                    id=reading_id,
                    program_id=program_id,
                    boot=2,
                    seq=number + 1,
                    channel=0,
                    occupied=rng.randint(0, state.capacity),
                    capacity=state.capacity,
                    source="import",
                )
                session.add(reading)
                session.flush()
                session.execute(
                    update(CurrentState)
                    .where(CurrentState.program_id == program_id)
                    .values(reading_id=reading_id, occupied=reading.occupied, updated_at=utcnow())
                )
                session.commit()
                seen = 0
                while seen == 0:  # each change is its own event (the feed looks every 0.1 s)
                    seen = len(next(chunks))
                received += seen
    return (received - opened) / changes


def keepalive_bytes(stack: Stack) -> int:
    """Bytes of one keepalive event on a stream that has been quiet."""
    headers = {"Accept": "text/event-stream", "Accept-Encoding": "gzip, deflate, br"}
    with httpx.stream("GET", stack.http + "/api/v1/events", headers=headers, timeout=60) as r:
        chunks = r.iter_raw()
        next(chunks)  # the `retry:` line
        return len(next(chunks))


def answer_bytes(stack: Stack, path: str) -> int:
    """Bytes of one answer, compressed as sent."""
    headers = {"Accept-Encoding": "gzip, deflate, br"}
    with httpx.stream("GET", stack.http + path, headers=headers, timeout=60) as r:
        return sum(len(chunk) for chunk in r.iter_raw())


def measure(sites: int, loads: int, browser, workdir: Path, quick: bool) -> dict[str, float]:
    rng = random.Random(sites)
    url = f"sqlite:///{workdir / f'map-{uuid.uuid4().hex[:8]}.db'}"
    settings = settings_for(url, None).model_copy(
        update={
            "tiles_url": "",
            "events_keepalive_seconds": 2,
            "public_rate_per_minute": 1_000_000,
            "public_rate_burst": 1_000_000,
        }
    )
    with Stack(settings) as stack:
        program_ids = seed(stack.system.engine, sites, rng)
        httpx.get(stack.http + "/api/v1/shelters", timeout=300)  # the server's own warm-up
        results = [page_load(browser, stack.http + "/", not quick) for _ in range(loads)]
        per_change = change_bytes(stack, program_ids, rng, QUICK_CHANGES if quick else CHANGES)
        keepalive = keepalive_bytes(stack)
        asked_again = answer_bytes(stack, "/api/v1/summary")  # the totals
        if sites > WHOLE_AT_ONCE:  # the groups of the phone's first view, as page.py asks
            asked_again += answer_bytes(stack, "/api/v1/shelters/groups?width=390&height=338")
    hourly = per_change * CHANGES_PER_HOUR + keepalive * 3600 / KEEPALIVE_S
    hourly += asked_again * 3600 / GAP_S  # (changes come every second: once each gap)
    return {
        "first view (KB)": statistics.median(b for b, _ms in results) / 1000,
        "markers (ms)": statistics.median(ms for _b, ms in results),
        "an hour of changes (KB)": hourly / 1000,
        "one change (B)": per_change,
    }


def main() -> None:
    parser = command_line(__package__, __doc__, "smoke run: 100 shelters, one unthrottled load")
    parser.add_argument("--sites", type=int, default=10_000, help="shelters on the map")
    parser.add_argument("--loads", type=int, default=3, help="page loads, median taken")
    args = parser.parse_args()
    city = CITY
    if args.quick:
        args.sites, args.loads, city = 100, 1, 20

    from playwright.sync_api import sync_playwright  # only this benchmark needs it

    print_header(args.quick)
    how = "unthrottled" if args.quick else "throttled (400 kbit/s, 400 ms, phone screen)"
    changes = QUICK_CHANGES if args.quick else CHANGES
    print(
        f"The map at {args.sites:,} shelters against {city:,}, {args.loads} {how} loads "
        f"each, {changes} changes on the event stream\n"
    )
    started = time.monotonic()
    with TemporaryDirectory() as workdir, sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch_options())
        baseline = measure(city, args.loads, browser, Path(workdir), args.quick)
        scaled = measure(args.sites, args.loads, browser, Path(workdir), args.quick)
        browser.close()
    rows = [
        [
            name,
            f"{baseline[name]:,.0f}",
            f"{scaled[name]:,.0f}",
            f"{scaled[name] / baseline[name]:.2f}",
            f"{GOALS[name]:,}" if name in GOALS else "",
            ("met" if scaled[name] <= GOALS[name] else "NOT met") if name in GOALS else "",
        ]
        for name in scaled
    ]
    print("Ratios (at the scale / at a city's size):")
    print(table(["", f"{city:,} shelters", f"{args.sites:,}", "ratio", "goal", ""], rows))
    print(
        f"\nAn hour of changes: {CHANGES_PER_HOUR:,} changed shelters (one a second) and a "
        f"keepalive every {KEEPALIVE_S} s, and the totals every {GAP_S:.0f} s, for a public "
        f"page; over {WHOLE_AT_ONCE:,} shelters, the groups of its view every {GAP_S:.0f} s too"
    )
    print(f"Load average after: {load()}; {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
