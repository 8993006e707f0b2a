"""The production broker refuses what it must: Mosquitto with deploy/mosquitto/'s files.

Accounts, topic rights and TLS are Mosquitto's own; these tests attack them from outside as
a stranger, a dial with the wrong password, and a dial speaking for another one, and run
the real ingestor and the simulator's transport through TLS with a throwaway CA.
"""

import asyncio
import json
import ssl
import uuid

import paho.mqtt.client as mqtt
import pytest
import trustme
from sqlmodel import Session, select

from firmware.dialcore import protocol
from server import mqtt_url, provision
from server.db import make_engine, migrate
from server.ingest.client import Ingestor
from server.models import Reading
from server.simulator.host_transport import HostTransport
from tests.hardware.mosquitto_setup import (
    ACL,
    SERVER_PASSWORD,
    SERVER_USER,
    BrokerClient,
    GuideBroker,
)
from tests.support import aio
from tests.support.stack import add_paired_site

SECRETS = {"desk-01": "secret-of-desk-01", "desk-02": "secret-of-desk-02"}
MAX_PAYLOAD = 4096  # the default SIGNAL_MAX_PAYLOAD_BYTES


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    passwd = tmp_path_factory.mktemp("broker") / "passwd"
    for device_id, secret in SECRETS.items():
        provision.set_mosquitto_password(passwd, device_id, secret)
    with GuideBroker(passwd) as running:
        yield running


def _server(broker, ca_file=None) -> BrokerClient:
    port = broker.tls_port if ca_file else broker.port
    return BrokerClient(port, SERVER_USER, SERVER_PASSWORD, ca_file)


def _dial(broker, device_id, tls=False) -> BrokerClient:
    port, ca_file = (broker.tls_port, broker.ca_file) if tls else (broker.port, None)
    return BrokerClient(port, device_id, SECRETS[device_id], ca_file)


def test_the_acl_gives_each_topic_suffix_one_direction():
    patterns = [line.split() for line in ACL.read_text().splitlines() if line.startswith("pattern")]
    rights = {topic.removeprefix("signal/v1/%u/"): right for _, right, topic in patterns}
    assert len(rights) == len(patterns) and set(rights) == set(protocol.SUFFIXES)
    assert rights == {
        "state": "write",
        "status": "write",
        "telemetry": "write",
        "ack": "read",
        "config": "read",
    }


@pytest.mark.parametrize("listener", ["plain", "tls"])
def test_anonymous_clients_are_refused_on_every_listener(broker, listener):
    port, ca_file = (broker.tls_port, broker.ca_file) if listener == "tls" else (broker.port, None)
    stranger = BrokerClient(port, "", "", ca_file)
    stranger.close()
    assert stranger.connected.getName() == "Not authorized"


def test_a_wrong_password_and_an_unknown_user_are_refused(broker):
    wrong = BrokerClient(broker.port, "desk-01", SECRETS["desk-02"])
    unknown = BrokerClient(broker.port, "desk-99", SECRETS["desk-01"])
    wrong.close()
    unknown.close()
    assert wrong.connected.getName() == "Not authorized"
    assert unknown.connected.getName() == "Not authorized"


def test_a_dial_cannot_publish_as_another_dial(broker):
    server = _server(broker)
    for suffix in ("state", "status", "telemetry"):  # no retained messages on these
        server.subscribe(protocol.topic("desk-01", suffix))
    server.subscribe(protocol.topic("desk-02", "state"))
    dial = _dial(broker, "desk-02")
    try:
        for suffix in ("state", "status", "telemetry"):
            refused = dial.publish(protocol.topic("desk-01", suffix))
            assert refused.getName() == "Not authorized", suffix
        for suffix in ("config", "ack"):  # nor speak for the server, even to itself
            assert dial.publish(protocol.topic("desk-02", suffix)).getName() == "Not authorized"
        assert not dial.publish(protocol.topic("desk-02", "state")).is_failure
        # The broker passes a client's messages on in order: its own state arriving first
        # and alone shows that nothing it published before reached the server.
        assert server.messages.get(timeout=10) == protocol.topic("desk-02", "state")
        assert server.messages.empty()
    finally:
        dial.close()
        server.close()


def test_a_dial_cannot_read_another_dials_config_or_ack(broker):
    server = _server(broker)
    for device_id in ("desk-01", "desk-02"):
        server.publish(protocol.topic(device_id, "config"), retain=True)
    dial = _dial(broker, "desk-02")
    try:
        # Mosquitto accepts the subscriptions but delivers only what the ACL lets it read.
        dial.subscribe(protocol.topic("desk-01", "config"))
        dial.subscribe(protocol.topic("desk-01", "ack"))
        dial.subscribe("signal/#")
        assert dial.messages.get(timeout=10) == protocol.topic("desk-02", "config")
        server.publish(protocol.topic("desk-01", "ack"))
        server.publish(protocol.topic("desk-02", "ack"))
        # The server's two acks reach the broker in order: the dial's own arriving next and
        # alone shows the other dial's was withheld.
        assert dial.messages.get(timeout=10) == protocol.topic("desk-02", "ack")
        assert dial.messages.empty()
    finally:
        dial.close()
        server.close()


def test_a_client_trusting_another_ca_is_refused(broker):
    other_ca = trustme.CA()
    with other_ca.cert_pem.tempfile() as other_ca_file:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="doubtful")
        mqtt_url.secure(client, broker.tls_url, other_ca_file)
        with pytest.raises(ssl.SSLCertVerificationError):
            client.connect(broker.host, broker.tls_port)


def test_a_dials_reading_travels_through_tls_to_the_database(broker, tmp_path):
    """The real ingestor (server account) and the simulator's transport (a dial's own
    account), both over mqtts:// with the test CA: the reading is stored and acknowledged."""
    database = f"sqlite:///{tmp_path / 'signal.db'}"
    migrate(database)
    engine = make_engine(database)
    with Session(engine) as session:
        add_paired_site(session, "desk-01")
        session.commit()
    ingestor = Ingestor(
        engine, broker.tls_url, f"ingest-{uuid.uuid4().hex[:6]}", MAX_PAYLOAD,
        ca_file=broker.ca_file,
    )  # fmt: skip
    ingestor.start()
    try:
        assert ingestor.connected.wait(10), "the ingestor did not connect over TLS"
        ack = aio.run(_send_state_over_tls(broker, count=7))
        assert (ack["boot"], ack["seq"], ack["result"]) == (1, 1, "saved")
        with Session(engine) as session:
            stored = session.exec(select(Reading)).all()
        assert [(r.device_id, r.occupied) for r in stored] == [("desk-01", 7)]
    finally:
        ingestor.stop()
        engine.dispose()


async def _send_state_over_tls(broker, count: int) -> dict:
    """Log in as desk-01 through TLS with HostTransport, send one state, return its ack."""
    url = f"mqtts://{broker.host}:{broker.tls_port}"
    transport = HostTransport(url, "desk-01", "desk-01", SECRETS["desk-01"], broker.ca_file)
    up = asyncio.Event()
    acks: asyncio.Queue = asyncio.Queue()

    async def on_up():
        await transport.subscribe(protocol.topic("desk-01", "ack"), qos=1)
        up.set()

    def on_message(topic, payload):
        if topic == protocol.topic("desk-01", "ack"):
            acks.put_nowait(json.loads(payload))

    will = (protocol.topic("desk-01", "status"), b"{}", False, 1)
    await transport.connect(will, on_message, on_up, lambda: None)
    try:
        await asyncio.wait_for(up.wait(), 10)
        state = protocol.encode_state(1, 1, "occupied", 1, [(count, 20)])
        await transport.publish(protocol.topic("desk-01", "state"), state, qos=1)
        return await asyncio.wait_for(acks.get(), 10)
    finally:
        await transport.disconnect()


def test_the_server_account_reaches_every_dials_topics(broker):
    server = _server(broker, broker.ca_file)  # over TLS, as from another machine
    try:
        assert not server.connected.is_failure
        assert server.subscribe("signal/#").value == 1  # granted, at QoS 1
        assert not server.publish(protocol.topic("desk-01", "ack")).is_failure
    finally:
        server.close()
