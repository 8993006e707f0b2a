"""Fixtures for the page tests: running systems with seeded cities, browser pages, artefacts.

`demo` is one system shared by every test here that only reads (starting a system and
seeding a week of history takes a few seconds); tests that change data or settings start
their own small one with `small_system`.
"""

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session

from server.auth import issue_key
from server.models import Role
from tests.map.seeding import demo_city
from tests.support.stack import Stack, settings_for

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "map"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
# The tests open the pages many times from one address; the public rate limit (made for the
# open internet) would start refusing them.
# The page's connection badge says its event stream is open (map/static/live.js)
LIVE = "() => document.querySelector('#ss-connection').dataset.state === 'live'"
NO_RATE_LIMIT = {"public_rate_per_minute": 1_000_000, "public_rate_burst": 1_000_000}


def system_settings(tmp_path: Path, mqtt_url: str, **overrides):
    url = f"sqlite:///{tmp_path / f'map-{uuid.uuid4().hex[:8]}.db'}"
    return settings_for(url, mqtt_url).model_copy(update={**NO_RATE_LIMIT, **overrides})


@dataclass
class Demo:
    stack: Stack
    kinds: dict[str, list[int]]  # site ids by what they should show: current, stale, ...
    city_key: str  # an API key with the role city
    outreach_key: str  # an API key with the role outreach

    @property
    def http(self) -> str:
        return self.stack.http


@pytest.fixture(scope="session")
def demo(mosquitto, tmp_path_factory) -> Iterator[Demo]:
    """The demo's invented city (40 sites, a week of counts) on a running system without map
    tiles (nothing leaves the machine; the tiles tests set their own)."""
    settings = system_settings(tmp_path_factory.mktemp("demo"), mosquitto.url, tiles_url="")
    with Stack(settings) as stack:
        kinds = demo_city(stack.system.engine)
        with Session(stack.system.engine) as session:
            _key, city_key = issue_key(session, "map tests", Role.city)
            _key, outreach_key = issue_key(session, "map tests outreach", Role.outreach)
            session.commit()
        yield Demo(stack, kinds, city_key, outreach_key)


@pytest.fixture
def small_system(mosquitto, tmp_path):
    """Start a system of your own: `small_system(**settings)` returns a running Stack."""
    with contextlib.ExitStack() as stacks:

        def start(**overrides) -> Stack:
            return stacks.enter_context(
                Stack(system_settings(tmp_path, mosquitto.url, **overrides))
            )

        yield start


@pytest.fixture
def open_page(browser):
    """`open_page(url, **context_options)` opens a page in a fresh browser context (own
    storage, own viewport); every context is closed after the test. With `fake_clock=True` the
    page's timers can be moved on with `page.clock.fast_forward(...)`. Anything the page's
    Content-Security-Policy refused (server/api/csp.py) fails the test at its end. Give
    `page.wait_for_function` a function (`"() => ..."`): a bare expression is run with eval
    at every poll (Playwright 1.65), which the policy refuses."""
    contexts = []
    refused = []

    def open_(url: str, fake_clock: bool = False, **options):
        context = browser.new_context(**options)
        contexts.append(context)
        context.on("console", lambda message: refused.extend(csp_refusals([message])))
        page = context.new_page()
        if fake_clock:
            page.clock.install()
        page.goto(url)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert refused == []


def csp_refusals(messages) -> list[str]:
    """What Chromium said it refused under a page's Content-Security-Policy."""
    return [m.text for m in messages if "Content Security Policy" in m.text]


def save_screenshot(page, name: str) -> Path:
    """Keep what the page looks like under artifacts/map/ (gitignored) for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
