"""The ingestor against a real Mosquitto: batches, shared subscriptions, database outages."""

import hashlib
import json
import queue
import threading
import uuid

import paho.mqtt.client as mqtt
from sqlalchemy import text
from sqlmodel import Session, func, select

from firmware.dialcore import protocol
from server import firmware, mqtt_url
from server.db import make_engine, migrate
from server.ingest import client as ingest_client
from server.ingest.client import Ingestor
from server.models import DeadLetter, Device, Reading
from tests.support.services import Mosquitto
from tests.support.stack import add_paired_site, start_subscribed
from tests.support.waiting import scaled, wait_until


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


def test_nothing_is_acknowledged_while_the_database_fails(postgres, caplog):
    url = postgres.new_database(f"outage_{uuid.uuid4().hex[:6]}")
    migrate(url)
    engine = make_engine(url)
    device_id = f"outage-{uuid.uuid4().hex[:6]}"
    seed(engine, device_id)
    # A broker of its own: the session's keeps other tests' retained messages, which would
    # wait in the inbox beside this one while the database fails (91 did, on a loaded run).
    with Mosquitto() as broker:
        ingestor = started(engine, broker.url)
        dial = Device_(broker.url, device_id)
        try:
            with engine.begin() as connection:  # the table vanishes: every insert fails
                connection.execute(text("ALTER TABLE reading RENAME TO reading_away"))
            dial.send(1, count=7)
            wait_until(
                lambda: "database unavailable; 1 messages wait" in caplog.text,
                message="the worker tried to store it, and failed",
            )
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

    def handle_batch_with_a_bug(session, messages, limit, zone):
        if any(b'"seq": 2,' in payload for _topic, payload in messages):
            raise RuntimeError("simulated bug")
        return real_handle_batch(session, messages, limit, zone)

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


class UpdatingDial:
    """A raw MQTT client doing a dial's part of an update: it reads its `ota` orders and
    downloads files chunk by chunk with `fetch`."""

    def __init__(self, url: str, device_id: str):
        host, port = mqtt_url.parse(url)
        self.device_id = device_id
        self.inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id)
        self.client.on_message = lambda _c, _u, m: self.inbox.put((m.topic, m.payload))
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect(host, port)
        self.client.loop_start()
        topics = [(protocol.topic(device_id, suffix), 1) for suffix in ("ota", "chunk")]
        self.client.subscribe(topics)
        assert subscribed.wait(scaled(10)), "the dial did not subscribe"

    def next(self, suffix: str) -> bytes:
        topic, payload = self.inbox.get(timeout=scaled(10))
        assert topic == protocol.topic(self.device_id, suffix), topic
        return payload

    def publish(self, suffix: str, payload: bytes, retain: bool = False) -> None:
        topic = protocol.topic(self.device_id, suffix)
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(scaled(5))

    def download(self, version: str, path: str, size: int) -> bytes:
        data = b""
        for offset in range(0, size + 1, protocol.CHUNK):
            self.publish("fetch", protocol.encode_fetch(version, path, offset))
            chunk = protocol.decode_chunk(self.next("chunk"))
            assert (chunk["version"], chunk["path"], chunk["offset"]) == (version, path, offset)
            data += chunk["data"]
        return data

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_a_dial_is_ordered_to_update_downloads_the_release_and_reports(
    mosquitto, engine, release_files
):
    device_id = f"ota-{uuid.uuid4().hex[:6]}"
    seed(engine, device_id)
    with Session(engine) as session:
        firmware.store_release(session, "0.2.0", list(release_files.items()))
        firmware.roll_out(session, "0.2.0", [device_id])
        session.commit()
    client_id = f"ingest-{uuid.uuid4().hex[:6]}"
    ingestor = Ingestor(engine, mosquitto.url, client_id, 4096)
    start_subscribed(ingestor)
    dial = UpdatingDial(mosquitto.url, device_id)
    try:
        order = protocol.decode_ota(dial.next("ota"))  # retained: there before the dial came
        assert order["version"] == "0.2.0" and len(order["files"]) == len(release_files)
        for path, size, digest in order["files"]:
            data = dial.download("0.2.0", path, size)
            assert data == release_files[path] and hashlib.sha256(data).hexdigest() == digest
        dial.publish("update", protocol.encode_update("0.2.0", "done"), retain=True)

        def device() -> Device:
            with Session(engine) as session:
                return session.get(Device, device_id)

        wait_until(lambda: device().update_state == "done", message="the report stored")
        assert device().published_target_firmware == "0.2.0"

        # A fetch of what is not there gets no chunk, and a dead letter says why
        dial.publish("fetch", protocol.encode_fetch("0.2.0", "board/big.py", 1 << 20))

        def reasons():
            with Session(engine) as session:
                query = select(DeadLetter.reason).where(DeadLetter.topic.contains(device_id))
                return session.exec(query).all()

        wait_until(lambda: reasons() != [], message="the bad fetch dead-lettered")
        assert reasons() == ["fetch offset 1048576 past the end of board/big.py (5126 bytes)"]

        # After a restart the ingestor publishes the order again (say the broker lost it)
        ingestor.stop()
        dial.publish("ota", b"", retain=True)  # (only a test may: the ACL forbids dials)
        assert dial.next("ota") == b""
        ingestor = Ingestor(engine, mosquitto.url, client_id, 4096)
        start_subscribed(ingestor)
        assert protocol.decode_ota(dial.next("ota"))["version"] == "0.2.0"

        # Stopped: the order is withdrawn, retained
        with Session(engine) as session:
            assert firmware.stop(session, "0.2.0").running == [device_id]
            session.commit()
        assert protocol.decode_ota(dial.next("ota")) == {"version": None, "files": []}
        wait_until(lambda: device().published_target_firmware is None, message="noted")
    finally:
        dial.close()
        ingestor.stop()
