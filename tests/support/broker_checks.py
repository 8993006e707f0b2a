"""What an embedded broker must do for `make run`, as checks that count instead of assert:
tests/server/test_broker.py asserts them on the broker we keep, bench/embedded_broker.py
runs them on each candidate (docs/benchmarks.md, "Embedded broker").

Each takes the broker's host and port and uses paho-mqtt, as the dials' simulator and the
ingestor do. A check waits for what it expects with `settle`: it returns as soon as the
count is reached, so a passing broker costs no waiting and a failing one says how much
it lost (after PATIENCE_S, scaled).
"""

import threading
import time
import uuid

import paho.mqtt.client as mqtt

from tests.support.waiting import scaled

TOPIC = "signal/{device}/state"
IN_FLIGHT = 20  # QoS 1 messages a dial has sent when its id is taken over


# How long a check waits for what it expects before it counts it lost: on loopback a message
# takes a millisecond. The benchmark's smoke run shortens it (bench/embedded_broker.py).
PATIENCE_S = 2.0


def settle(check, timeout: float | None = None) -> bool:
    """Wait until `check()` is true or `scaled(timeout or PATIENCE_S)` has passed; return
    check()."""
    deadline = time.monotonic() + scaled(timeout or PATIENCE_S)
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)
    return check()


class Client:
    """One paho client on its own network thread, connected once __init__ returns; `will`
    is a (topic, payload) to publish retained at QoS 1 if it vanishes."""

    def __init__(self, host: str, port: int, client_id=None, will=None, **options):
        self.client_id = client_id or f"check-{uuid.uuid4().hex[:8]}"
        self.received: list[mqtt.MQTTMessage] = []
        self.session_present: bool | None = None
        self._subscribed = threading.Event()
        self.paho = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, self.client_id, **options)
        self.paho.on_connect = self._on_connect
        self.paho.on_subscribe = lambda *_: self._subscribed.set()
        self.paho.on_message = lambda _c, _u, message: self.received.append(message)
        if will:
            self.paho.will_set(*will, qos=1, retain=True)
        self.paho.connect(host, port)
        self.paho.loop_start()
        assert settle(self.paho.is_connected, 5), f"{self.client_id} could not connect"

    def _on_connect(self, _client, _userdata, flags, _reason, _properties) -> None:
        self.session_present = flags.session_present

    def subscribe(self, topic: str) -> "Client":
        self._subscribed.clear()
        self.paho.subscribe(topic, qos=1)
        assert self._subscribed.wait(scaled(5)), f"{self.client_id}: no SUBACK for {topic}"
        return self

    def payloads(self, topic: str) -> set[bytes]:
        return {m.payload for m in self.received if m.topic == topic}

    def close(self, cleanly: bool = True) -> None:
        """Disconnect; `cleanly=False` drops the link as a crash or a lost network does."""
        if cleanly:
            self.paho.disconnect()
        self.paho.loop_stop()
        if not cleanly and self.paho.socket():  # (none while it is between reconnects)
            self.paho.socket().close()


def client_id_reuse(host: str, port: int, rounds: int = 5) -> tuple[int, int]:
    """A dial's client id is taken over while it has QoS 1 messages in flight: it rebooted
    and reconnected before the broker saw its old link die. Return (acknowledged by the
    broker, of those never delivered to a subscriber): the second must be 0."""
    ingestor = Client(host, port).subscribe(TOPIC.format(device="+"))
    topic = TOPIC.format(device=f"reuse-{uuid.uuid4().hex[:6]}")
    sent: dict[bytes, mqtt.MQTTMessageInfo] = {}
    try:
        for round_ in range(rounds):
            old = Client(host, port, client_id="reused-dial")
            # One acknowledged first, so a loaded machine cannot leave every round's
            # messages unsent at the takeover and the check with nothing to count.
            first = f"{round_}:first".encode()
            sent[first] = old.paho.publish(topic, first, qos=1)
            settle(sent[first].is_published)
            for n in range(IN_FLIGHT):
                payload = f"{round_}:{n}".encode()
                sent[payload] = old.paho.publish(topic, payload, qos=1)
            new = Client(host, port, client_id="reused-dial")  # the broker drops `old`
            time.sleep(scaled(0.3))  # PUBACKs on their way to `old`, which reconnects
            old.close(cleanly=False)
            new.close()
        acked = {payload for payload, info in sent.items() if info.is_published()}
        settle(lambda: acked <= ingestor.payloads(topic))
        return len(acked), len(acked - ingestor.payloads(topic))
    finally:
        ingestor.close()


def retained_leak(host: str, port: int) -> list[str]:
    """Dials and the ingestor keep retained messages and subscriptions; a newcomer then
    subscribes to one topic that nobody publishes. Return the topics it was sent anyway:
    there must be none (amqtt 0.12 sent the retained messages of everyone's filters)."""
    device = f"leak-{uuid.uuid4().hex[:6]}"
    ingestor = Client(host, port).subscribe("signal/#")
    dial = Client(host, port).subscribe(f"signal/{device}/config")
    for kind in ("status", "config"):
        dial.paho.publish(f"signal/{device}/{kind}", b"{}", qos=1, retain=True).wait_for_publish()
    newcomer = Client(host, port).subscribe("zzz")
    settle(lambda: newcomer.received, timeout=0.5)  # a leak comes right after the SUBACK
    leaked = [m.topic for m in newcomer.received]
    for client in (ingestor, dial, newcomer):
        client.close()
    return leaked


def session_kept(host: str, port: int, messages: int = 10) -> tuple[int, int]:
    """The ingestor's persistent session (clean_session=False, acks after the commit): it
    drops its link while dials publish, comes back and crashes before acking, comes back
    again. Return how many of `messages` it was given (a) after the first return and (b)
    after the crash: both must be all of them."""
    client_id = f"ingest-{uuid.uuid4().hex[:6]}"
    topic = TOPIC.format(device=client_id)

    def ingestor(ack: bool) -> Client:
        options = {"clean_session": False, "manual_ack": True}
        client = Client(host, port, client_id, **options)
        if not ack:  # no PUBACK: the broker must send them again at the next connection
            client.paho.on_message = lambda _c, _u, message: client.received.append(message)
        else:
            client.paho.on_message = lambda c, _u, message: (
                client.received.append(message),
                c.ack(message.mid, message.qos),
            )
        if not client.session_present:
            client.subscribe(topic)
        return client

    ingestor(ack=True).close()
    dial = Client(host, port)
    for n in range(messages):
        dial.paho.publish(topic, str(n).encode(), qos=1).wait_for_publish()
    dial.close()
    back = ingestor(ack=False)
    settle(lambda: len(back.payloads(topic)) >= messages)
    back.close(cleanly=False)
    again = ingestor(ack=True)
    settle(lambda: len(again.payloads(topic)) >= messages)
    again.close()
    Client(host, port, client_id, clean_session=True).close()  # ends the kept session
    return len(back.payloads(topic)), len(again.payloads(topic))


def throughput(host: str, port: int, messages: int) -> float:
    """QoS 1 messages per second from one publisher through the broker to one subscriber,
    all `messages` sent at once (paho keeps 20 in flight, its default)."""
    topic = TOPIC.format(device=f"rate-{uuid.uuid4().hex[:6]}")
    subscriber = Client(host, port).subscribe(topic)
    publisher = Client(host, port)
    started = time.perf_counter()
    for n in range(messages):
        publisher.paho.publish(topic, str(n).encode(), qos=1)
    settle(lambda: len(subscriber.received) >= messages, timeout=60)
    elapsed = time.perf_counter() - started
    delivered = len(subscriber.received)
    publisher.close()
    subscriber.close()
    return delivered / elapsed
