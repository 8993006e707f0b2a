"""Smoke tests for the test harness itself: each real service starts and works."""

from __future__ import annotations

import queue
import uuid

import paho.mqtt.client as mqtt
import psycopg
import pytest

from tests.support.services import Mosquitto, Postgres, free_port
from tests.support.waiting import scaled, wait_until


def _connected_client(broker: Mosquitto) -> mqtt.Client:
    """A paho-mqtt 2.x client, connected, with its network loop in a background thread."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 1024 <= port <= 65535


@pytest.mark.mosquitto
def test_retained_qos1_message_survives_broker_restart(mosquitto: Mosquitto) -> None:
    assert mosquitto.url == f"mqtt://127.0.0.1:{mosquitto.port}"
    topic = f"test/harness/{uuid.uuid4().hex}"  # unique: the broker is shared

    publisher = _connected_client(mosquitto)
    info = publisher.publish(topic, b"42 beds", qos=1, retain=True)
    info.wait_for_publish(timeout=scaled(5))  # QoS 1: returns once the broker sent PUBACK
    assert info.is_published()
    publisher.disconnect()
    publisher.loop_stop()

    mosquitto.restart()  # saves mosquitto.db on SIGTERM, reloads it on start

    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    subscriber.on_message = lambda _client, _userdata, message: received.put(message)
    subscriber.connect(mosquitto.host, mosquitto.port)
    subscriber.subscribe(topic, qos=1)
    subscriber.loop_start()
    try:
        message = received.get(timeout=scaled(5))
    finally:
        subscriber.disconnect()
        subscriber.loop_stop()
    assert message.payload == b"42 beds"
    assert message.retain


@pytest.mark.postgres
def test_postgres_runs_queries(postgres: Postgres) -> None:
    assert postgres.url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    with psycopg.connect(postgres.libpq_url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


@pytest.mark.postgres
def test_postgres_new_database_is_separate(postgres: Postgres) -> None:
    name = f"isolated_{uuid.uuid4().hex[:8]}"
    url = postgres.new_database(name)
    assert url.endswith(f"/{name}")
    # psycopg takes plain libpq URLs, so drop SQLAlchemy's "+psycopg" driver suffix.
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        conn.execute("create table shelters (id serial primary key, beds int not null)")
        conn.execute("insert into shelters (beds) values (12), (30)")
        assert conn.execute("select sum(beds) from shelters").fetchone() == (42,)
    with psycopg.connect(postgres.libpq_url) as conn:
        row = conn.execute("select to_regclass('shelters')").fetchone()
        assert row == (None,)  # the table exists only in the new database


@pytest.mark.browser
def test_chromium_reads_page_title(browser) -> None:
    page = browser.new_page()
    try:
        page.goto("data:text/html,<title>Shelter Signal</title><p>ok</p>")
        assert page.title() == "Shelter Signal"
    finally:
        page.close()


@pytest.mark.mosquitto
def test_extra_config_lines_reach_the_broker() -> None:
    with Mosquitto(extra=("log_type debug",)) as broker:  # debug logs every packet
        client = _connected_client(broker)
        try:
            wait_until(lambda: "Sending CONNACK" in broker.log_path.read_text())
        finally:
            client.disconnect()
            client.loop_stop()


@pytest.mark.postgres
def test_a_durable_cluster_keeps_its_commits_through_a_crash_restart() -> None:
    with Postgres(durable=True) as cluster:
        connection = psycopg.connect(cluster.libpq_url, autocommit=True)
        connection.execute("create table beds (free int)")
        connection.execute("insert into beds values (7)")

        cluster.restart()

        with pytest.raises(psycopg.OperationalError):  # every client sees the crash
            connection.execute("select 1")
        connection.close()
        with psycopg.connect(cluster.libpq_url) as fresh:
            assert fresh.execute("select free from beds").fetchall() == [(7,)]


@pytest.mark.mosquitto
def test_a_crashed_broker_forgets_what_it_had_not_saved() -> None:
    with Mosquitto() as broker:  # saves every 30 minutes (Mosquitto's default)
        publisher = _connected_client(broker)
        publisher.publish("test/unsaved", b"1", qos=1, retain=True).wait_for_publish(scaled(5))
        publisher.disconnect()
        publisher.loop_stop()
        broker.crash()
        broker.start()
        publisher = _connected_client(broker)
        publisher.publish("test/after", b"2", qos=1, retain=True).wait_for_publish(scaled(5))
        publisher.disconnect()
        publisher.loop_stop()

        received: queue.Queue[str] = queue.Queue()
        subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        subscriber.on_message = lambda _client, _userdata, message: received.put(message.topic)
        subscriber.connect(broker.host, broker.port)
        subscriber.subscribe([("test/unsaved", 1), ("test/after", 1)])  # one SUBACK for both
        subscriber.loop_start()
        try:
            # Retained messages come with the subscription, in the order of its topics: had
            # "test/unsaved" survived, it would arrive first.
            assert received.get(timeout=scaled(5)) == "test/after"
        finally:
            subscriber.disconnect()
            subscriber.loop_stop()
