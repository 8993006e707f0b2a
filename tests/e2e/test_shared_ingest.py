"""Two ingestors share the load through an MQTT 5 shared subscription; one is killed -9
mid-stream and comes back with the same client id: every reading is stored once and acked."""

import json
import re
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from sqlmodel import Session, select

from firmware.dialcore import protocol
from server.db import make_engine, migrate
from server.models import Reading
from tests.support.services import IngestorProcess, Mosquitto
from tests.support.stack import add_paired_site
from tests.support.waiting import scaled, wait_until

pytestmark = [pytest.mark.mosquitto, pytest.mark.postgres]
DEVICES = 10
COMMITS = 40  # per device: 400 states in all, a stream that lasts a few seconds
PACE_S = 0.005  # between states: the stream is still flowing when the kill comes
GROUP = "ingest"


@pytest.fixture
def broker():
    # Debug logging names the client of every message the broker hands out: which ingestor
    # received what is read from the broker itself.
    with Mosquitto(extra=("log_type debug", "max_queued_messages 1000000")) as mosquitto:
        yield mosquitto


def handed_to(broker: Mosquitto, client_id: str) -> int:
    """State messages the broker has sent to `client_id` (redeliveries included)."""
    pattern = re.compile(rf"Sending PUBLISH to {client_id} \(.*'signal/v1/[^/]+/state'")
    return len(pattern.findall(broker.log_path.read_text()))


def subscribed(broker: Mosquitto, client_id: str) -> bool:
    log = broker.log_path.read_text()
    return f"Received SUBSCRIBE from {client_id}\n" in log and f"$share/{GROUP}/" in log


class Publisher(threading.Thread):
    """Sends every device's commits, round-robin, each once the broker has taken it."""

    def __init__(self, broker: Mosquitto, devices: list[str]):
        super().__init__(daemon=True)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="publisher")
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.devices = devices
        self.sent: list[tuple[str, int, int]] = []

    def run(self) -> None:
        for seq in range(1, COMMITS + 1):
            for number, device in enumerate(self.devices):
                count = (seq + number) % 20  # any count within the capacity of 20
                payload = protocol.encode_state(1, seq, "occupied", 1, [(count, 20)])
                info = self.client.publish(protocol.topic(device, "state"), payload, qos=1)
                info.wait_for_publish(timeout=scaled(10))
                self.sent.append((device, 1, seq))
                time.sleep(PACE_S)
        self.client.disconnect()
        self.client.loop_stop()


def test_two_ingestors_share_the_stream_and_a_killed_one_loses_nothing(broker, postgres, tmp_path):
    database = postgres.new_database(f"shared_{uuid.uuid4().hex[:8]}")
    migrate(database)
    engine = make_engine(database)
    devices = [f"shared-{n}" for n in range(DEVICES)]
    with Session(engine) as session:
        for device in devices:
            add_paired_site(session, device)
        session.commit()

    acks: list[tuple[str, int, int, str]] = []  # every ack the ingestors publish
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="ack-watcher")
    watcher.on_message = lambda _c, _u, m: acks.append(
        (
            protocol.parse_topic(m.topic)[0],
            *(json.loads(m.payload)[k] for k in ("boot", "seq", "result")),
        )
    )
    watcher.connect(broker.host, broker.port)
    watcher.subscribe("signal/v1/+/ack", qos=1)
    watcher.loop_start()

    ingestors = [
        IngestorProcess(database, broker.url, f"ingest-{name}", tmp_path, GROUP)
        for name in ("a", "b")
    ]
    victim, survivor = ingestors
    try:
        for ingestor in ingestors:
            ingestor.start()
            wait_until(lambda i=ingestor: subscribed(broker, i.client_id), message="subscribed")
        publisher = Publisher(broker, devices)
        publisher.start()
        wait_until(lambda: handed_to(broker, victim.client_id) >= 20, message="victim's share")
        victim.kill()
        assert publisher.is_alive(), "the kill must come mid-stream"
        publisher.join(timeout=scaled(60))
        victim.start()  # same client id: its session, with what it had not acked, is waiting

        def stored():
            with Session(engine) as session:
                return session.exec(select(Reading.device_id, Reading.boot, Reading.seq)).all()

        sent = publisher.sent
        assert len(sent) == DEVICES * COMMITS
        wait_until(lambda: len(stored()) >= len(sent), timeout=60, message="every reading stored")
        wait_until(
            lambda: {(d, b, s) for d, b, s, result in acks if result == "saved"} >= set(sent),
            timeout=30,
            message="every reading acked",
        )
    finally:
        for ingestor in ingestors:
            ingestor.stop()
        watcher.disconnect()
        watcher.loop_stop()
        engine.dispose()

    rows = stored()
    assert sorted(rows) == sorted(sent)  # every reading once: none lost, none doubled
    assert handed_to(broker, victim.client_id) > 0 and handed_to(broker, survivor.client_id) > 0
    assert not [a for a in acks if a[3] != "saved"]
