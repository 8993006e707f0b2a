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
