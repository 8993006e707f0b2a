"""Nothing is lost: commits made offline or before a power cut reach the database once."""

import uuid

import pytest
from sqlmodel import Session, select

from firmware.dialcore import display
from server.models import CurrentState, Reading
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


def stored(stack, device_id):
    with Session(stack.system.engine) as session:
        rows = session.exec(select(Reading).where(Reading.device_id == device_id)).all()
        current = session.exec(select(CurrentState)).all()
    return [(r.boot, r.seq, r.occupied) for r in rows], [c.occupied for c in current]


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
    stack.do(app.transport._client.loop_stop)  # the network thread dies with the power
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
