"""Nothing is lost: commits made offline or before a power cut reach the database once."""

import contextlib
import json
import uuid

import paho.mqtt.client as mqtt
import pytest
from sqlmodel import Session, select

from firmware.dialcore import display, protocol
from server import mqtt_url
from server.models import CurrentState, Device, Reading
from tests.support.services import Mosquitto
from tests.support.stack import Stack, settings_for
from tests.support.waiting import wait_until


@pytest.fixture
def broker():
    with Mosquitto() as mosquitto:
        yield mosquitto


@pytest.fixture
def stack(broker, tmp_path):
    with Stack(settings_for(f"sqlite:///{tmp_path / 'signal.db'}", broker.url)) as running:
        yield running


@pytest.fixture
def embedded(tmp_path):
    """The system as `make run` starts it: with its embedded broker instead of Mosquitto."""
    with Stack(settings_for(f"sqlite:///{tmp_path / 'signal.db'}", None)) as running:
        yield running


def stored(stack, device_id):
    with Session(stack.system.engine) as session:
        rows = session.exec(select(Reading).where(Reading.device_id == device_id)).all()
        current = session.exec(select(CurrentState)).all()
    return [(r.boot, r.seq, r.occupied) for r in rows], [c.occupied for c in current]


@contextlib.contextmanager
def states_sent(stack, device_id):
    """The seqs of the states the broker takes from the dial while in the block."""
    seqs: list[int] = []
    client_id = f"watch-{uuid.uuid4().hex[:6]}"
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.on_message = lambda _c, _u, message: seqs.append(json.loads(message.payload)["seq"])
    host, port = mqtt_url.parse(stack.mqtt_url)
    client.connect(host, port)
    client.subscribe(protocol.topic(device_id, "state"), qos=1)
    client.loop_start()
    try:
        yield seqs
    finally:
        client.disconnect()
        client.loop_stop()


def test_commits_survive_a_broker_outage_and_a_power_cut(stack, broker, tmp_path):
    device_id = f"res-{uuid.uuid4().hex[:8]}"
    stack.add_site(device_id, capacity=30)
    app = stack.start_dial(device_id, tmp_path)
    wait_until(lambda: stack.do(lambda: app.config["version"]) == 1, message="configured")

    broker.stop()
    wait_until(lambda: stack.do(lambda: display.state(app)) == display.OFFLINE, message="offline")
    stack.do(app.turn, 6)
    stack.do(app.press)  # commit 1, offline
    stack.do(app.turn, 2)
    stack.do(app.press)  # commit 2, offline: the newest is what must arrive
    assert stack.do(lambda: app.store.pending["seq"]) == 2

    app.task.cancel()  # power cut: no orderly goodbye, only what is on flash survives
    stack.do(app.transport.fall_silent)  # its network falls silent with the power
    broker.restart()

    rebooted = stack.start_dial(device_id, tmp_path)
    assert stack.do(lambda: (rebooted.store.boot, rebooted.dial.counts)) == (2, [8])
    wait_until(
        lambda: stack.do(lambda: display.state(rebooted)) == display.SAVED,
        timeout=20,
        message="replayed commit saved after reboot",
    )
    readings, current = stored(stack, device_id)
    assert readings == [(1, 2, 8)]  # commit 1 was superseded on flash before it was ever sent
    assert current == [8]

    stack.do(rebooted.turn, -3)
    stack.do(rebooted.press)
    wait_until(lambda: stack.do(lambda: rebooted.store.acked_seq) == 3, message="new boot saves")
    assert stored(stack, device_id) == ([(1, 2, 8), (2, 3, 5)], [5])
    stack.stop_dial(rebooted)


@pytest.mark.parametrize("system", ["stack", "embedded"])
def test_the_server_down_for_a_while_gets_every_newest_commit_once(system, request, tmp_path):
    """The ingestor's persistent session keeps what arrives while it is away (amqtt, the
    embedded broker until issue 15, dropped it: commits 1 and 2 were lost)."""
    stack = request.getfixturevalue(system)
    device_id = f"res-{uuid.uuid4().hex[:8]}"
    stack.add_site(device_id, capacity=30)
    app = stack.start_dial(device_id, tmp_path)
    wait_until(lambda: stack.do(lambda: app.config["version"]) == 1, message="configured")

    stack.system.ingestor.stop()
    with states_sent(stack, device_id) as sent:
        for seq, steps in enumerate((3, 4, 5), start=1):
            stack.do(app.turn, steps)
            stack.do(app.press)
            # The dial sends only its newest commit: one made while the last is still on its
            # way replaces it. Let each reach the broker, so that all three are sent.
            wait_until(lambda seq=seq: seq in sent, message=f"commit {seq} sent")
    assert stack.do(lambda: display.state(app)) == display.SENDING  # connected, not confirmed

    ingestor = type(stack.system.ingestor)(
        stack.system.engine, stack.mqtt_url, stack.system.settings.ingest_client_id, 4096
    )
    stack.system.ingestor = ingestor
    ingestor.start()
    wait_until(lambda: stack.do(lambda: display.state(app)) == display.SAVED, timeout=20)
    readings, current = stored(stack, device_id)
    assert [seq for _, seq, _ in readings] == [1, 2, 3]  # each commit once, in history
    assert current == [12]
    stack.stop_dial(app)


def test_duplicate_acks_and_a_stale_config_change_nothing(stack, tmp_path):
    device_id = f"res-{uuid.uuid4().hex[:8]}"
    stack.add_site(device_id, capacity=30)
    app = stack.start_dial(device_id, tmp_path)
    wait_until(lambda: stack.do(lambda: app.config["version"]) == 1, message="configured")
    stack.do(app.turn, 7)
    stack.do(app.press)
    wait_until(lambda: stack.do(lambda: display.state(app)) == display.SAVED)

    for _ in range(3):  # the broker may deliver an ack more than once
        stack.publish(protocol.topic(device_id, "ack"), protocol.encode_ack(1, 1, "saved"))
    stale = protocol.encode_config(1, "Old name", "free", [("Old", 5)])
    stack.publish(protocol.topic(device_id, "config"), stale, retain=True)
    newer = protocol.encode_config(2, "Test House", "occupied", [("Beds", 10)])
    stack.publish(protocol.topic(device_id, "config"), newer, retain=True)

    wait_until(lambda: stack.do(lambda: app.config["version"]) == 2, message="newer config")
    assert stack.do(lambda: (app.config["shelter"], app.dial.capacities, app.dial.counts)) == (
        "Test House",
        [10],
        [7],
    )
    assert stack.do(lambda: (app.store.seq, display.state(app))) == (1, display.SAVED)

    def applied():
        with Session(stack.system.engine) as session:
            return session.get(Device, device_id).applied_config_version

    wait_until(lambda: applied() == 2, message="the server knows which config the dial applies")
    assert stored(stack, device_id) == ([(1, 1, 7)], [7])
    stack.stop_dial(app)
