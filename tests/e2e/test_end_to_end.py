"""The whole chain: dial -> MQTT -> database -> API -> live map, on every broker and database.

Each combination starts its own system like `shelter-signal run` does, with a simulated
dial running the firmware's application code over a real MQTT connection.
"""

import contextlib
import json
import uuid

import httpx
import pytest
from sqlmodel import Session, select

from firmware.dialcore import display, protocol
from server.models import DeadLetter, Reading
from tests.support.services import Mosquitto
from tests.support.stack import Stack, settings_for
from tests.support.waiting import wait_until

COMBINATIONS = [
    ("mosquitto", "sqlite"),
    ("embedded", "sqlite"),
    ("mosquitto", "postgres"),
    ("embedded", "postgres"),
]


@pytest.fixture(params=COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
def stack(request, tmp_path):
    broker, database = request.param
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'signal.db'}"
    else:
        url = request.getfixturevalue("postgres").new_database(f"e2e_{uuid.uuid4().hex[:8]}")
    with contextlib.ExitStack() as services:
        mosquitto = services.enter_context(Mosquitto()) if broker == "mosquitto" else None
        yield services.enter_context(Stack(settings_for(url, mosquitto and mosquitto.url)))


def _saved(stack, app):
    """The dial shows "saved" for its newest commit: the server's ack for it arrived."""
    return stack.do(lambda: display.state(app) == display.SAVED and app.store.pending is None)


def test_dial_turn_reaches_database_api_and_live_map(stack, tmp_path, browser):
    device_id = f"e2e-{uuid.uuid4().hex[:8]}"
    site_id = stack.add_site(device_id, capacity=20)
    app = stack.start_dial(device_id, tmp_path)
    wait_until(lambda: stack.do(lambda: app.config["version"]) == 1, message="config applied")

    page = browser.new_page()
    try:
        page.goto(stack.http + "/")
        marker = page.locator(f'.ss-marker[data-site-id="{site_id}"]')
        marker.wait_for()
        assert marker.get_attribute("data-status") == "unknown"  # no reading yet
        page.evaluate("window.__sameDocument = true")  # gone if the page reloads

        stack.do(app.turn, 5)
        stack.do(app.press)
        wait_until(lambda: _saved(stack, app), message="dial shows saved")

        with Session(stack.system.engine) as session:
            readings = session.exec(select(Reading).where(Reading.device_id == device_id)).all()
        assert [(r.seq, r.occupied, r.capacity) for r in readings] == [(1, 5, 20)]

        listed = httpx.get(stack.http + "/api/v1/shelters").json()["items"]
        site = next(s for s in listed if s["id"] == site_id)
        assert (site["occupied"], site["available"], site["freshness"]) == (5, 15, "fresh")

        page.wait_for_function(
            "id => document.querySelector(`.ss-marker[data-site-id='${id}']`)"
            "?.dataset.available === '15'",
            arg=site_id,
        )
        assert marker.get_attribute("data-status") == "space"
        assert "15" in marker.inner_text()

        stack.do(app.turn, 15)  # now full: settles by itself, no press
        wait_until(lambda: _saved(stack, app) and app.store.seq == 2, message="second commit")
        page.wait_for_function(
            "id => document.querySelector(`.ss-marker[data-site-id='${id}']`)"
            "?.dataset.status === 'full'",
            arg=site_id,
        )
        assert "FULL" in marker.inner_text()
        assert page.evaluate("window.__sameDocument") is True
    finally:
        page.close()
        stack.stop_dial(app)


def test_bad_messages_are_dead_lettered_and_ingest_goes_on(stack, tmp_path):
    device_id = f"e2e-{uuid.uuid4().hex[:8]}"
    stack.add_site(device_id)
    app = stack.start_dial(device_id, tmp_path)
    wait_until(lambda: stack.do(lambda: app.config["version"]) == 1, message="config applied")

    ghost_state = protocol.encode_state(1, 1, "occupied", 0, [(3, 10)])
    stack.publish(protocol.topic(device_id, "state"), b"{not json")
    stack.publish(protocol.topic("ghost-device", "state"), ghost_state)
    stack.publish(protocol.topic(device_id, "state"), json.dumps({"v": 2, "seq": 1}).encode())

    def letters():
        with Session(stack.system.engine) as session:
            rows = session.exec(select(DeadLetter)).all()
        return {(r.topic, r.reason) for r in rows if device_id in r.topic or "ghost" in r.topic}

    expected = {
        (protocol.topic(device_id, "state"), "payload is not valid JSON"),
        (protocol.topic("ghost-device", "state"), "unknown device: ghost-device"),
        (protocol.topic(device_id, "state"), "unsupported protocol version: 2"),
    }
    wait_until(lambda: letters() == expected, message=f"dead letters {expected}")

    stack.do(app.turn, 4)
    stack.do(app.press)
    wait_until(lambda: _saved(stack, app), message="a good reading after the bad ones")
    site = httpx.get(stack.http + "/api/v1/shelters").json()["items"][0]
    assert site["occupied"] == 4
    stack.stop_dial(app)
