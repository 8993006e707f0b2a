"""The ingestor against a real Mosquitto: batches, shared subscriptions, database outages."""

import json
import threading
import uuid

import paho.mqtt.client as mqtt
from sqlalchemy import text
from sqlmodel import Session, func, select

from firmware.dialcore import protocol
from server import mqtt_url
from server.db import make_engine, migrate
from server.ingest import client as ingest_client
from server.ingest.client import Ingestor
from server.models import DeadLetter, Reading
from tests.support.stack import add_paired_site, start_subscribed
from tests.support.waiting import wait_until


class Device_:
    """A raw MQTT client speaking for one device: publishes states, collects acks."""

    def __init__(self, url: str, device_id: str):
        host, port = mqtt_url.parse(url)
        self.device_id = device_id
        self.acks: list[dict] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id)
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.subscribe(protocol.topic(device_id, "ack"), qos=1)
        self.client.loop_start()

    def _on_message(self, _c, _u, message):
        with self._lock:
            self.acks.append(json.loads(message.payload))

    def send(self, seq: int, count: int = 5) -> None:
        payload = protocol.encode_state(1, seq, "occupied", 1, [(count, 20)])
        self.client.publish(protocol.topic(self.device_id, "state"), payload, qos=1)

    def saved(self) -> set[int]:
        with self._lock:
            return {a["seq"] for a in self.acks if a["result"] == "saved"}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def seed(engine, device_id: str) -> None:
    with Session(engine) as session:
        add_paired_site(session, device_id)
        session.commit()


def readings(engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Reading)).one()


def started(engine, url, **options) -> Ingestor:
    ingestor = Ingestor(engine, url, f"ingest-{uuid.uuid4().hex[:6]}", 4096, **options)
    start_subscribed(ingestor)
    return ingestor


def test_a_burst_is_stored_once_and_every_message_acknowledged(mosquitto, engine):
    device_id = f"burst-{uuid.uuid4().hex[:6]}"
    seed(engine, device_id)
    ingestor = started(engine, mosquitto.url, batch_size=50)
    dial = Device_(mosquitto.url, device_id)
    try:
        for seq in range(1, 301):
            dial.send(seq, count=seq % 21)
        wait_until(lambda: len(dial.saved()) == 300, timeout=30, message="300 acks")
        assert readings(engine) == 300
    finally:
        dial.close()
        ingestor.stop()


def test_a_shared_subscription_splits_the_work_and_stores_each_message_once(mosquitto, engine):
    device_id = f"share-{uuid.uuid4().hex[:6]}"
    seed(engine, device_id)
    group = f"g{uuid.uuid4().hex[:6]}"
    first = started(engine, mosquitto.url, shared_group=group, batch_size=5)
    second = started(engine, mosquitto.url, shared_group=group, batch_size=5)
    dial = Device_(mosquitto.url, device_id)
    try:
        for seq in range(1, 201):
            dial.send(seq)
        wait_until(lambda: len(dial.saved()) == 200, timeout=30, message="200 acks")
        assert readings(engine) == 200
        assert first.stored > 0 and second.stored > 0
    finally:
        dial.close()
        first.stop()
        second.stop()


def test_nothing_is_acknowledged_while_the_database_fails(mosquitto, postgres):
    url = postgres.new_database(f"outage_{uuid.uuid4().hex[:6]}")
    migrate(url)
    engine = make_engine(url)
    device_id = f"outage-{uuid.uuid4().hex[:6]}"
    seed(engine, device_id)
    ingestor = started(engine, mosquitto.url)
    dial = Device_(mosquitto.url, device_id)
    try:
        with engine.begin() as connection:  # the table vanishes: every insert fails
            connection.execute(text("ALTER TABLE reading RENAME TO reading_away"))
        dial.send(1, count=7)
        wait_until(lambda: ingestor._inbox.empty(), message="message taken by the worker")
        assert dial.saved() == set()
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE reading_away RENAME TO reading"))
        wait_until(lambda: dial.saved() == {1}, timeout=20, message="stored once it is back")
        assert readings(engine) == 1
    finally:
        dial.close()
        ingestor.stop()
        engine.dispose()


def test_a_message_that_breaks_our_code_is_dead_lettered_and_the_rest_stored(
    mosquitto, engine, monkeypatch
):
    device_id = f"bug-{uuid.uuid4().hex[:6]}"
    seed(engine, device_id)
    real_handle_batch = ingest_client.handle_batch

    def handle_batch_with_a_bug(session, messages, limit):
        if any(b'"seq": 2,' in payload for _topic, payload in messages):
            raise RuntimeError("simulated bug")
        return real_handle_batch(session, messages, limit)

    monkeypatch.setattr(ingest_client, "handle_batch", handle_batch_with_a_bug)
    ingestor = started(engine, mosquitto.url, batch_size=10)
    dial = Device_(mosquitto.url, device_id)
    try:
        for seq in (1, 2, 3):
            dial.send(seq)
        wait_until(lambda: dial.saved() == {1, 3}, message="the good ones saved")

        def reasons():  # of this dial: the session's broker still holds other tests' retained
            with Session(engine) as session:  # messages, dead-lettered as unknown here
                query = select(DeadLetter.reason).where(DeadLetter.topic.contains(device_id))
                return session.exec(query).all()

        # a set: should the broker deliver it twice, it is recorded twice, which is right
        wait_until(lambda: set(reasons()) == {"internal error: RuntimeError"}, message="recorded")
        assert readings(engine) == 2
    finally:
        dial.close()
        ingestor.stop()


def test_a_value_the_database_refuses_is_dead_lettered_and_ingest_goes_on(mosquitto, engine):
    """The database, not our code, refuses a message at commit, again and again (so it is no
    race with another ingestor): that one message is set aside, the worker lives on, the next
    message is stored."""
    device_id = f"range-{uuid.uuid4().hex[:6]}"
    seed(engine, device_id)
    ingestor = started(engine, mosquitto.url, batch_size=10)
    dial = Device_(mosquitto.url, device_id)
    try:
        dial.send(1)
        wait_until(lambda: dial.saved() == {1}, message="the ingestor is subscribed")
        # The schemas keep out every value we know the database refuses, so a trigger refuses
        # one the way the database itself would, at the commit.
        with engine.begin() as connection:
            connection.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE UPDATE OF queue ON device WHEN NEW.queue = 7"
                    " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )
        telemetry = json.dumps({"v": 1, "uptime_s": 1, "fw": "1.0", "queue": 7}).encode()
        dial.client.publish(protocol.topic(device_id, "telemetry"), telemetry, qos=1)
        dial.send(2)
        wait_until(lambda: dial.saved() == {1, 2}, message="the next message stored")

        def letters():
            with Session(engine) as session:
                query = select(DeadLetter.topic).where(DeadLetter.topic.contains(device_id))
                return session.exec(query).all()

        wait_until(
            lambda: letters() == [protocol.topic(device_id, "telemetry")], message="set aside"
        )
    finally:
        dial.close()
        ingestor.stop()
