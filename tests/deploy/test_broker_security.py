"""The production broker refuses what it must: Mosquitto with deploy/mosquitto/'s files.

Accounts, topic rights, client ids, the size limit and TLS are Mosquitto's own; these tests
attack them from outside as a stranger, a dial with the wrong password, a dial speaking for
another one or taking over another client's id, and a dial sending a huge message, and run
the real ingestor and the simulator's transport through TLS with a throwaway CA.
"""

import asyncio
import json
import queue
import ssl
import uuid

import paho.mqtt.client as mqtt
import pytest
import trustme
from sqlmodel import Session, select

from firmware.dialcore import protocol
from server import mqtt_url, provision
from server.db import make_engine, migrate
from server.ingest.client import SESSION_EXPIRY_S, Ingestor
from server.models import Reading
from server.protocol import check as check_schema
from server.settings import Settings
from server.simulator.host_transport import HostTransport
from tests.hardware.mosquitto_setup import (
    ACL,
    CONF,
    SERVER_PASSWORD,
    SERVER_USER,
    BrokerClient,
    GuideBroker,
)
from tests.support import aio
from tests.support.stack import add_paired_site
from tests.support.waiting import scaled, wait_until

SECRETS = {f"desk-0{n}": f"secret-of-desk-0{n}" for n in range(1, 5)}
MAX_PAYLOAD = 4096  # the default SIGNAL_MAX_PAYLOAD_BYTES
INGEST_ID = Settings.model_fields["ingest_client_id"].default  # shelter-signal-ingest


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    passwd = tmp_path_factory.mktemp("broker") / "passwd"
    for device_id, secret in SECRETS.items():
        provision.set_mosquitto_password(passwd, device_id, secret)
    with GuideBroker(passwd) as running:
        yield running


def _server(broker, ca_file=None) -> BrokerClient:
    """The server's account; with `ca_file` through TLS as from another machine (the listener
    for server parts there), else on loopback."""
    port = broker.server_tls_port if ca_file else broker.port
    return BrokerClient(port, SERVER_USER, SERVER_PASSWORD, ca_file)


def _dial(broker, device_id, tls=False, **options) -> BrokerClient:
    """A dial's account; `tls` through the dials' listener, else on loopback (as the web dial
    of a server on this machine). `options` as BrokerClient's."""
    port, ca_file = (broker.tls_port, broker.ca_file) if tls else (broker.port, None)
    return BrokerClient(port, device_id, SECRETS[device_id], ca_file, **options)


def _ingestor(broker, client_id=INGEST_ID) -> BrokerClient:
    """The server's account with the ingestor's id and session (MQTT 5, kept a week)."""
    return BrokerClient(
        broker.port, SERVER_USER, SERVER_PASSWORD, client_id=client_id,
        session_expiry=SESSION_EXPIRY_S,
    )  # fmt: skip


def _forget_session(broker, client_id) -> None:
    """Log in once with a clean start and no expiry, so the broker drops `client_id`'s session."""
    BrokerClient(broker.port, SERVER_USER, SERVER_PASSWORD, client_id=client_id).close()


def test_the_acl_gives_each_topic_suffix_one_direction():
    patterns = [line.split() for line in ACL.read_text().splitlines() if line.startswith("pattern")]
    rights = {topic.removeprefix("signal/v1/%u/"): right for _, right, topic in patterns}
    assert len(rights) == len(patterns) and set(rights) == set(protocol.SUFFIXES)
    assert rights == {
        "state": "write",
        "status": "write",
        "telemetry": "write",
        "fetch": "write",
        "update": "write",
        "ack": "read",
        "config": "read",
        "ota": "read",
        "chunk": "read",
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


DIAL_SENDS = ("state", "status", "telemetry", "fetch", "update")
SERVER_SENDS = ("config", "ack", "ota", "chunk")


def test_a_dial_cannot_publish_as_another_dial(broker):
    server = _server(broker)
    for suffix in DIAL_SENDS:  # no retained messages on these
        server.subscribe(protocol.topic("desk-01", suffix))
    server.subscribe(protocol.topic("desk-02", "state"))
    dial = _dial(broker, "desk-02")
    try:
        for suffix in DIAL_SENDS:
            refused = dial.publish(protocol.topic("desk-01", suffix))
            assert refused.getName() == "Not authorized", suffix
        for suffix in SERVER_SENDS:  # nor speak for the server, even to itself
            assert dial.publish(protocol.topic("desk-02", suffix)).getName() == "Not authorized"
        assert not dial.publish(protocol.topic("desk-02", "state")).is_failure
        # The broker passes a client's messages on in order: its own state arriving first
        # and alone shows that nothing it published before reached the server.
        assert server.messages.get(timeout=scaled(10)) == protocol.topic("desk-02", "state")
        assert server.messages.empty()
    finally:
        dial.close()
        server.close()


def test_a_dial_cannot_read_another_dials_config_ack_ota_or_chunk(broker):
    server = _server(broker)
    for device_id in ("desk-01", "desk-02"):
        for suffix in ("config", "ota"):  # retained
            server.publish(protocol.topic(device_id, suffix), retain=True)
    dial = _dial(broker, "desk-02")
    try:
        # Mosquitto accepts the subscriptions but delivers only what the ACL lets it read.
        for suffix in SERVER_SENDS:
            dial.subscribe(protocol.topic("desk-01", suffix))
        dial.subscribe("signal/#")
        own = {dial.messages.get(timeout=scaled(10)), dial.messages.get(timeout=scaled(10))}
        assert own == {protocol.topic("desk-02", "config"), protocol.topic("desk-02", "ota")}
        for suffix in ("ack", "chunk"):
            server.publish(protocol.topic("desk-01", suffix))
            server.publish(protocol.topic("desk-02", suffix))
            # The server's two messages reach the broker in order: the dial's own arriving
            # next and alone shows the other dial's was withheld.
            assert dial.messages.get(timeout=scaled(10)) == protocol.topic("desk-02", suffix)
        assert dial.messages.empty()
    finally:
        dial.close()
        server.close()


def _listeners() -> dict[str, list[str]]:
    """The deploy file's listeners (commented ones left out): address line -> its options."""
    listeners: dict[str, list[str]] = {}
    for line in CONF.read_text().splitlines():
        if line.startswith("listener "):
            current = listeners.setdefault(line, [])
        elif listeners and line and not line.startswith("#"):
            current.append(line)
    return listeners


def test_only_the_loopback_listener_lets_clients_pick_their_client_id():
    listeners = _listeners()
    assert set(listeners) == {"listener 1883 127.0.0.1", "listener 8883"}
    assert "use_username_as_clientid true" not in listeners["listener 1883 127.0.0.1"]
    assert "use_username_as_clientid true" in listeners["listener 8883"]


def test_a_dial_cannot_take_over_another_dials_connection(broker):
    """Through TLS, where dials connect, desk-02's account asking for desk-01's client id is
    let in as desk-02: desk-01 stays connected and the broker never sends desk-01's will."""
    server = _server(broker)
    server.subscribe(protocol.topic("desk-01", "status"))
    server.subscribe(protocol.topic("desk-01", "telemetry"))
    lost = (protocol.topic("desk-01", "status"), protocol.encode_status("lost", 1, "test", 1))
    # As the firmware connects: MQTT 3.1.1, client id = device id, a last will.
    victim = _dial(broker, "desk-01", tls=True, client_id="desk-01", v311=True, will=lost)
    try:
        attacker = _dial(broker, "desk-02", tls=True, client_id="desk-01")
        assert not attacker.connected.is_failure  # let in, but under its own name
        attacker.close()
        # A takeover happens before the newcomer's CONNACK: by now the victim would have been
        # disconnected and its will sent, ahead of anything the victim publishes next.
        assert not victim.publish(protocol.topic("desk-01", "telemetry")).is_failure
        assert server.messages.get(timeout=scaled(10)) == protocol.topic("desk-01", "telemetry")
        assert server.messages.empty()
        assert victim.disconnects.empty()
    finally:
        victim.close()
        server.close()


def test_a_dial_cannot_take_over_the_ingestors_id_nor_discard_its_session(broker):
    """A dial's account asking for the ingestor's client id through TLS with a clean start
    neither knocks the ingestor off nor empties the queue its session keeps while it is away."""
    topic = protocol.topic("desk-02", "telemetry")
    ingestor = _ingestor(broker)
    try:
        assert ingestor.subscribe(topic).value == 1
        attacker = _dial(broker, "desk-02", tls=True, client_id=INGEST_ID)  # MQTT 5, clean
        assert not attacker.connected.is_failure
        attacker.close()
        assert not ingestor.publish(protocol.topic("desk-02", "ack")).is_failure
        assert ingestor.disconnects.empty()
        ingestor.close()  # away (a restart): the broker queues for its session
        dial = _dial(broker, "desk-02", tls=True)
        assert not dial.publish(topic).is_failure
        dial.close()
        attacker = _dial(broker, "desk-02", tls=True, client_id=INGEST_ID)
        attacker.close()
        ingestor = _ingestor(broker)
        assert ingestor.session_present
        assert ingestor.messages.get(timeout=scaled(10)) == topic
    finally:
        ingestor.close()
        _forget_session(broker, INGEST_ID)


def test_the_servers_clients_on_this_machine_keep_their_own_ids(broker):
    """On loopback two ingestors (a session each, one shared subscription), the /ready check
    and a web dial's save (desk-01's account, an id of its own) connect side by side while
    desk-01 itself is connected through TLS: no login knocks another client off."""
    ingestor_ids = [f"{INGEST_ID}-9101", f"{INGEST_ID}-9102"]
    shared = f"$share/ingest/{protocol.topic('desk-01', 'telemetry')}"
    clients = [_dial(broker, "desk-01", tls=True, client_id="desk-01", v311=True)]
    try:
        for client_id in ingestor_ids:
            clients.append(_ingestor(broker, client_id))
            assert not clients[-1].subscribe(shared).is_failure
        ready = f"shelter-signal-ready-{uuid.uuid4().hex[:8]}"  # as server/api/routes/health.py
        clients.append(BrokerClient(broker.port, SERVER_USER, SERVER_PASSWORD, client_id=ready))
        web_dial = f"desk-01-{uuid.uuid4().hex[:8]}"  # as server/webdial/send.py
        clients.append(_dial(broker, "desk-01", client_id=web_dial))
        assert not any(client.connected.is_failure for client in clients)
        # A round trip on each connection after the last login: a takeover would have closed
        # the older connection before the newer one's CONNACK.
        for client in clients:
            assert not client.subscribe(protocol.topic("desk-01", "config")).is_failure
        assert all(client.disconnects.empty() for client in clients)
    finally:
        for client in clients:
            client.close()
        for client_id in ingestor_ids:
            _forget_session(broker, client_id)


def _size_limit() -> int:
    """The deploy file's max_packet_size: the most bytes one MQTT packet may have."""
    lines = CONF.read_text().splitlines()
    return int(next(line.split()[1] for line in lines if line.startswith("max_packet_size ")))


def _publish_size(topic: str, payload: bytes, v5: bool) -> int:
    """Bytes of a QoS 1 PUBLISH: type byte, remaining length, topic, packet id, MQTT 5's
    empty property list, payload."""
    remaining = 2 + len(topic.encode()) + 2 + int(v5) + len(payload)
    length_bytes = next(n for n in range(1, 5) if remaining < 128**n)
    return 1 + length_bytes + remaining


def test_the_size_limit_fits_the_largest_legitimate_messages_with_headroom():
    """The sums in the deploy file's comment: every message the server sends a dial, at the
    most its schema allows (the longest names, every character one that JSON escapes as 12
    bytes, every list full), on the longest topic, fits with 60 % to spare."""
    far = "\U0001f6cf"  # outside Unicode's basic plane: "\ud83d\udecf" in JSON
    most = 2**31 - 1
    held = [{"id": most, "code": "Z" * 8, "until": 4102444800}] * 8
    config = protocol.encode_config(
        most,
        far * 64,
        "occupied",
        [(far * 24, 10000)] * 8,
        [held] * 8,
        [{"closed": True, "count": 10000}] * 8,
    )
    files = [("dialcore/" + "a" * 32 + ".mpy", 1048576, "f" * 64)] * protocol.MAX_FILES
    ota = protocol.encode_ota("v" * 32, files)
    chunk = protocol.encode_chunk("v" * 32, files[0][0], 1046528, bytes(protocol.CHUNK))
    ack = protocol.encode_ack(most, most, "rejected", far * 200)
    for kind, payload in (("config", config), ("ota", ota), ("chunk", chunk), ("ack", ack)):
        check_schema(kind, json.loads(payload))  # legitimate: the schemas take them
    assert (len(ota), len(config)) == (9922, 7672)
    assert max(len(chunk), len(ack)) < len(config)
    topic = protocol.topic("d" * 32, "telemetry")  # the longest device id and suffix
    largest = _publish_size(topic, ota, v5=True)
    assert largest == 9982
    assert _size_limit() >= 1.6 * largest


def test_a_message_just_under_the_size_limit_passes(broker):
    topic = protocol.topic("desk-03", "state")
    dial = _dial(broker, "desk-03", tls=True, v311=True)  # MQTT 3.1.1, as the firmware
    server = _server(broker)
    try:
        limit = _size_limit()
        # The longest payload whose whole packet is the limit's size, to the byte.
        size = max(n for n in range(limit) if _publish_size(topic, bytes(n), v5=False) <= limit)
        payload = b"x" * size
        assert _publish_size(topic, payload, v5=False) == limit
        assert not dial.publish(topic, payload, retain=True).is_failure
        assert server.subscribe(topic).value == 1
        assert server.messages.get(timeout=scaled(10)) == topic  # the retained copy
        assert server.payloads[topic] == payload
        assert dial.disconnects.empty()
        assert not dial.publish(topic, b"", retain=True).is_failure  # clears the retained copy
    finally:
        dial.close()
        server.close()


@pytest.mark.parametrize("size", ["limit", "20MB"])
@pytest.mark.parametrize("v311", [True, False], ids=["mqtt311", "mqtt5"])
def test_an_oversized_message_is_refused_and_never_retained(broker, size, v311):
    """A retained state over the limit (a payload the limit's size already is: the packet
    has more) ends the dial's connection without a PUBACK, and nobody ever gets it."""
    size = _size_limit() if size == "limit" else 20_000_000
    topic = protocol.topic("desk-04", "state")
    dial = _dial(broker, "desk-04", tls=True, v311=v311)
    acked: queue.Queue = queue.Queue()
    dial.client.on_publish = lambda _c, _u, _mid, code, _p: acked.put(code)
    try:
        dial.client.publish(topic, b"x" * size, qos=1, retain=True)
        wait_until(
            lambda: not dial.disconnects.empty(),
            timeout=30,
            message="the broker ends the connection",
        )
        dial.client.disconnect()  # else paho would reconnect and send it again
        assert acked.empty()  # never acknowledged
    finally:
        dial.close()
    server = _server(broker)
    try:
        # Retained messages come right after the SUBACK, before anything published later:
        # the server's own ack arriving first and alone shows nothing was retained.
        assert server.subscribe(protocol.topic("desk-04", "#")).value == 1
        assert not server.publish(protocol.topic("desk-04", "ack")).is_failure
        assert server.messages.get(timeout=scaled(10)) == protocol.topic("desk-04", "ack")
        assert server.messages.empty()
    finally:
        server.close()


def test_a_client_trusting_another_ca_is_refused(broker):
    other_ca = trustme.CA()
    with other_ca.cert_pem.tempfile() as other_ca_file:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="doubtful")
        mqtt_url.secure(client, broker.tls_url, other_ca_file)
        with pytest.raises(ssl.SSLCertVerificationError):
            client.connect(broker.host, broker.tls_port)


def test_a_dials_reading_travels_through_tls_to_the_database(broker, tmp_path):
    """The real ingestor (server account, through the listener for server parts on other
    machines) and the simulator's transport (a dial's own account, through the dials'
    listener), both over mqtts:// with the test CA: the reading is stored and acknowledged."""
    database = f"sqlite:///{tmp_path / 'signal.db'}"
    migrate(database)
    engine = make_engine(database)
    with Session(engine) as session:
        add_paired_site(session, "desk-01")
        session.commit()
    ingestor = Ingestor(
        engine, broker.server_tls_url, f"ingest-{uuid.uuid4().hex[:6]}", MAX_PAYLOAD,
        ca_file=broker.ca_file,
    )  # fmt: skip
    ingestor.start()
    try:
        assert ingestor.connected.wait(scaled(10)), "the ingestor did not connect over TLS"
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
        await asyncio.wait_for(up.wait(), scaled(10))
        state = protocol.encode_state(1, 1, "occupied", 1, [(count, 20)])
        await transport.publish(protocol.topic("desk-01", "state"), state, qos=1)
        return await asyncio.wait_for(acks.get(), scaled(10))
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
