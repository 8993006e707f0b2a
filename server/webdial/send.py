"""Send one web commit to the broker as its dial, and wait for the ingestor's answer.

One short connection per commit: a web dial saves every few minutes at most, a broker on
the server's network connects in milliseconds, and nothing has to be kept alive between
saves. It logs in with the dial's own id and secret, as a hardware dial does, so broker
accounts and topic rules apply to web dials unchanged. (The simulator's HostTransport is a
long-lived link that reconnects forever and leaves a last will: the broker would report
the dial "lost" whenever the API stops, which a web page never is.)
"""

import logging
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

from firmware.dialcore import protocol
from server import mqtt_url

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 5.0  # a reachable broker answers in milliseconds; past this it is down
ACK_TIMEOUT_S = 5.0  # the ingestor acks within a second; past this it is down or far behind
KEEPALIVE_S = 30  # as the dials' (the connection lives a few seconds anyway)


@dataclass(frozen=True)
class Answer:
    result: str  # saved, rejected or pending (no answer yet: send the same commit again)
    reason: str | None = None
    # why it is pending, as a word the page says in its reader's language (PENDING); the
    # ingestor's reasons for a rejection come in its own words (English), with no code
    code: str | None = None


PENDING = {  # code -> reason, of an answer that is pending
    "broker_unreachable": "the server cannot reach its message broker",
    "broker_refused": "the message broker did not let this dial in",
    "acks_refused": "the message broker did not let this dial read answers",
    "not_published": "the message broker did not confirm the message",
    "no_answer": "no answer from the server yet",
}


def pending(code: str) -> Answer:
    return Answer("pending", PENDING[code], code)


def send(
    url: str,
    device_id: str,
    secret: str,
    boot: int,
    seq: int,
    payload: bytes,
    ca_file: Path | None = None,
) -> Answer:
    """Publish `payload` as the state of `device_id` and return the ack for (boot, seq).

    TLS as the server's broker URL says; the account is the dial's own, not the URL's."""
    host, port = mqtt_url.parse(url)
    connected, subscribed, answered = threading.Event(), threading.Event(), threading.Event()
    replies: dict[str, object] = {}

    def on_connect(_client, _userdata, _flags, reason_code, _properties):
        replies["connect"] = reason_code
        connected.set()

    def on_subscribe(_client, _userdata, _mid, reason_codes, _properties):
        replies["subscribe"] = reason_codes[0]
        subscribed.set()

    def on_message(_client, _userdata, message):
        try:
            ack = protocol.decode_ack(message.payload)
        except ValueError:
            return
        if (ack["boot"], ack["seq"]) == (boot, seq):  # acks of other commits: not ours
            replies["ack"] = Answer(ack["result"], ack["reason"])
            answered.set()

    # A client id of its own per commit: two phones saving at once must not take over
    # each other's connection, as two clients with one id would.
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"{device_id}-{secrets.token_hex(4)}"
    )
    mqtt_url.secure(client, url, ca_file)
    client.username_pw_set(device_id, secret)
    client.connect_timeout = CONNECT_TIMEOUT_S
    client.on_connect, client.on_subscribe = on_connect, on_subscribe
    client.on_message = on_message
    try:
        client.connect(host, port, keepalive=KEEPALIVE_S)
    except OSError as e:
        log.warning(
            "web dial %s cannot reach the broker at %s: %s", device_id, mqtt_url.redact(url), e
        )
        return pending("broker_unreachable")
    client.loop_start()
    try:
        if not connected.wait(CONNECT_TIMEOUT_S) or replies["connect"].is_failure:
            log.warning("broker refused web dial %s: %s", device_id, replies.get("connect"))
            return pending("broker_refused")
        # Subscribed before publishing, so the ack cannot come before we listen for it.
        client.subscribe(protocol.topic(device_id, "ack"), qos=1)
        if not subscribed.wait(CONNECT_TIMEOUT_S) or replies["subscribe"].is_failure:
            log.warning(
                "web dial %s may not read its acks: %s", device_id, replies.get("subscribe")
            )
            return pending("acks_refused")
        # QoS 1 and retained, as every dial sends its state (docs/protocol.md).
        sent = client.publish(protocol.topic(device_id, "state"), payload, qos=1, retain=True)
        try:
            sent.wait_for_publish(CONNECT_TIMEOUT_S)
            published = sent.is_published()
        except RuntimeError:  # the connection dropped under the publish
            published = False
        if not published:
            return pending("not_published")
        if not answered.wait(ACK_TIMEOUT_S):
            return pending("no_answer")
        return replies["ack"]
    finally:
        client.disconnect()
        client.loop_stop()
