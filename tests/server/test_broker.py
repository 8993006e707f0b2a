"""The embedded broker (server/broker.py, `make run`'s default) loses nothing and leaks
nothing. The takeover, leak and session checks failed on amqtt 0.12.1, the broker it
replaced, as did the 16 KiB limit (amqtt has none) and a first start without tracebacks;
bench/embedded_broker.py runs the same checks on both (docs/benchmarks.md)."""

import pytest

from server.broker import MAX_PAYLOAD_BYTES, EmbeddedBroker
from tests.support import aio, broker_checks
from tests.support.broker_checks import Client, settle
from tests.support.services import LOOPBACK, free_port

DIALS = 20


@pytest.fixture(scope="module")
def broker():
    embedded = EmbeddedBroker(LOOPBACK, free_port())
    aio.run(embedded.start())
    yield LOOPBACK, int(embedded.url.rsplit(":", 1)[1])
    aio.run(embedded.stop())


def test_a_dial_that_takes_over_its_own_client_id_loses_no_acknowledged_message(broker):
    acked, lost = broker_checks.client_id_reuse(*broker, rounds=3)
    assert acked > 0
    assert lost == 0  # amqtt: 2 to 9 of every 100 acknowledged, then never delivered


def test_a_new_client_gets_only_the_retained_messages_it_subscribed_to(broker):
    assert broker_checks.retained_leak(*broker) == []  # amqtt: every dial's status and config


def test_the_ingestors_session_keeps_what_arrives_while_it_is_away(broker):
    # amqtt: (0, 0): it dropped the session of a client without a user name at once
    assert broker_checks.session_kept(*broker, messages=10) == (10, 10)


def test_a_dial_that_vanishes_has_its_retained_last_will_published(broker):
    dial = Client(*broker, will=("signal/gone/status", b"lost"))
    dial.close(cleanly=False)
    newcomer = Client(*broker).subscribe("signal/gone/status")

    assert settle(lambda: newcomer.payloads("signal/gone/status") == {b"lost"}, timeout=10)
    newcomer.close()


def test_dials_connecting_together_are_all_served_without_a_traceback(broker, capfd):
    ingestor = Client(*broker).subscribe("signal/#")
    for i in range(DIALS):  # every dial's config waits for it, retained
        ingestor.paho.publish(f"signal/t{i}/config", b"{}", qos=1, retain=True).wait_for_publish()
    dials = [Client(*broker) for _ in range(DIALS)]
    for i, dial in enumerate(dials):
        dial.paho.subscribe(f"signal/t{i}/config", qos=1)

    assert settle(lambda: all(dial.received for dial in dials), timeout=10)
    for client in (ingestor, *dials):
        client.close()
    # amqtt, first start: "RuntimeError: dictionary changed size during iteration"
    assert "Traceback" not in "".join(capfd.readouterr())


def test_a_payload_over_the_limit_ends_its_senders_connection(broker):
    ingestor = Client(*broker).subscribe("signal/big/state")
    sender = Client(*broker)
    # Under the limit but over the server's own (4 KiB): delivered, for a dead letter.
    sender.paho.publish("signal/big/state", bytes(MAX_PAYLOAD_BYTES // 2), qos=1).wait_for_publish()
    sender.paho.publish("signal/big/state", bytes(MAX_PAYLOAD_BYTES), qos=1)

    assert settle(lambda: not sender.paho.is_connected(), timeout=10)
    assert settle(lambda: ingestor.received, timeout=10)
    assert [len(m.payload) for m in ingestor.received] == [MAX_PAYLOAD_BYTES // 2]
    sender.close()
    ingestor.close()


def test_it_refuses_a_port_in_use_and_frees_its_own_at_a_stop_with_a_client_connected():
    port = free_port()
    first = EmbeddedBroker(LOOPBACK, port)
    aio.run(first.start())
    client = Client(LOOPBACK, port)
    with pytest.raises(OSError, match="Address already in use"):
        aio.run(EmbeddedBroker(LOOPBACK, port).start())
    aio.run(first.stop())

    assert settle(lambda: not client.paho.is_connected(), timeout=10)
    client.close()
    again = EmbeddedBroker(LOOPBACK, port)  # a restart at once finds the port free
    aio.run(again.start())
    aio.run(again.stop())
