"""The ingestor's metrics move exactly as messages go through it, on a real Mosquitto, and its
own metrics port serves them."""

import uuid

import httpx
import paho.mqtt.client as mqtt
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session

from firmware.dialcore import protocol
from server import metrics, mqtt_url
from server.ingest.client import Ingestor
from tests.support.services import Mosquitto, free_port
from tests.support.stack import add_paired_site, start_subscribed
from tests.support.waiting import wait_until

LIMIT = 4096  # SIGNAL_MAX_PAYLOAD_BYTES's default


def value(name: str, **labels: str) -> float:
    return metrics.INGEST.get_sample_value(name, labels) or 0.0


# what the test compares before and after: name -> (sample, labels)
COUNTED = {
    "readings": ("signal_ingest_readings_accepted_total", {}),
    "stored": ("signal_ingest_messages_total", {"outcome": "stored"}),
    "duplicate": ("signal_ingest_messages_total", {"outcome": "duplicate"}),
    **{
        reason: ("signal_ingest_rejected_total", {"reason": reason})
        for reason in ("bad_payload", "too_large", "over_capacity", "unknown_device")
    },
    "timed": ("signal_ingest_lag_seconds_count", {}),
    "aged": ("signal_ingest_reading_age_seconds_count", {}),
}


def snapshot() -> dict[str, float]:
    """Every counted sample now (the registry is the process's, so tests compare deltas)."""
    return {key: value(sample, **labels) for key, (sample, labels) in COUNTED.items()}


@pytest.fixture
def broker():
    """A broker of this test's own: no retained message of another test reaches the ingestor."""
    with Mosquitto() as broker:
        yield broker


def test_counters_follow_what_the_ingestor_stores_and_refuses(broker, engine):
    device_id = f"metrics-{uuid.uuid4().hex[:6]}"
    with Session(engine) as session:
        add_paired_site(session, device_id, capacity=20)
        session.commit()
    before = snapshot()
    queued = value("signal_ingest_queued_messages")
    ingestor = Ingestor(engine, broker.url, f"ingest-{uuid.uuid4().hex[:6]}", LIMIT)
    host, port = mqtt_url.parse(broker.url)
    dial = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id)
    dial.connect(host, port)
    dial.loop_start()
    try:
        start_subscribed(ingestor)  # else the first states may reach the broker before it
        assert value("signal_ingest_broker_connected") >= 1
        state = protocol.topic(device_id, "state")
        sent = [
            (state, protocol.encode_state(1, 1, "occupied", 1, [(3, 20)], ts=1767225600)),
            (state, protocol.encode_state(1, 2, "occupied", 1, [(4, 20)], ts=1767225600)),
            (state, protocol.encode_state(1, 2, "occupied", 1, [(4, 20)], ts=1767225600)),
            (state, protocol.encode_state(1, 3, "occupied", 1, [(25, 20)])),  # over capacity
            (
                protocol.topic("nobody-01", "state"),
                protocol.encode_state(1, 1, "free", 1, [(1, 5)]),
            ),
            (state, b"{not json"),
            (state, b" " * (LIMIT + 1)),
        ]
        for topic, payload in sent:
            dial.publish(topic, payload, qos=1)

        def moved() -> dict[str, float]:
            now = snapshot()
            return {key: now[key] - before[key] for key in now}

        expected = {
            "readings": 2,
            "stored": 2,
            "duplicate": 1,
            "bad_payload": 1,
            "too_large": 1,
            "over_capacity": 1,
            "unknown_device": 1,
        }
        wait_until(
            lambda: all(moved()[key] >= n for key, n in expected.items()), message="all counted"
        )
        delta = moved()
        assert {key: delta[key] for key in expected} == expected
        # Every message is timed (ours on signal/#, acks and configs, too); a dial's clock
        # gives the age of the two stored states only
        assert delta["timed"] >= len(sent)
        assert delta["aged"] == 2
        wait_until(lambda: value("signal_ingest_queued_messages") == queued, message="drained")
    finally:
        dial.disconnect()
        dial.loop_stop()
        ingestor.stop()


def test_the_ingestor_serves_its_metrics_on_its_own_port():
    port = free_port()
    server = metrics.serve_ingest_metrics("127.0.0.1", port)
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics")
    finally:
        server.shutdown()
        server.server_close()
    assert answer.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    accepted = families["signal_ingest_readings_accepted"].samples[0].value
    assert accepted == value("signal_ingest_readings_accepted_total")
    assert "process_cpu_seconds" in families  # the process's own figures come along
    assert "signal_sse_clients" not in families  # the API's are not the ingestor's
