"""A real broker (the session's Mosquitto) and ingestor, and the web dial's API on top."""

import pytest

from tests.server.webdial.webapp import Dials, WebApp
from tests.support.stack import Stack, settings_for


@pytest.fixture(scope="module")
def stack(tmp_path_factory, mosquitto):
    url = f"sqlite:///{tmp_path_factory.mktemp('webdial') / 'signal.db'}"
    with Stack(settings_for(url, mosquitto.url)) as stack:
        yield stack


@pytest.fixture(scope="module")
def web(stack):
    app = WebApp(stack)
    yield app
    app.stop()


@pytest.fixture
def dials(stack):
    return Dials(stack)


@pytest.fixture
def signed_in(web, browser):
    """signed_in(device_id, secret): the dial's page on a phone-sized screen, opened with its
    secret; closed after the test. With `fake_clock=True` the page's timers can be moved on
    (`page.clock.run_for(...)`)."""
    contexts = []

    def open_(device_id: str, secret: str, fake_clock: bool = False):
        context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True)
        contexts.append(context)
        page = context.new_page()
        if fake_clock:
            page.clock.install()
        page.goto(f"{web.url}/dial/{device_id}")
        page.get_by_label("Dial secret").fill(secret)
        page.get_by_role("button", name="Open the dial").click()
        return page

    yield open_
    for context in contexts:
        context.close()
