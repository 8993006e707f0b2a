"""Broker URLs (server/mqtt_url.py): host and port, the account, TLS, and hiding passwords.

`secure` is checked on real paho clients against a real Mosquitto configured for production
(tests/hardware/mosquitto_setup.py): an account it logs in with, a CA it trusts.
"""

import ssl

import paho.mqtt.client as mqtt
import pytest
import trustme

from server import mqtt_url, provision
from tests.hardware.mosquitto_setup import SERVER_USER, GuideBroker
from tests.support.waiting import scaled


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker.example.org", ("broker.example.org", 1883)),
        ("mqtts://broker.example.org", ("broker.example.org", 8883)),
        ("mqtt://127.0.0.1:1884", ("127.0.0.1", 1884)),
        ("mqtts://user:pass@broker.example.org:9883", ("broker.example.org", 9883)),
        ("mqtt://[::1]:1883", ("::1", 1883)),
    ],
)
def test_parse_gives_host_and_port_with_each_schemes_default(url, expected):
    assert mqtt_url.parse(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://broker.example.org",
        "broker.example.org:1883",
        "mqtt://",
        "mqtt://:1883",
        "",
    ],
)
def test_parse_refuses_what_is_not_a_broker_url(url):
    with pytest.raises(ValueError, match="not an mqtt://host:port or mqtts://host:port URL"):
        mqtt_url.parse(url)


def test_a_refused_url_never_shows_its_password():
    with pytest.raises(ValueError) as refused:
        mqtt_url.parse("https://ingest:hunter2-secret@broker.example.org")
    assert "hunter2-secret" not in str(refused.value)
    assert "ingest:***@broker.example.org" in str(refused.value)


def test_a_port_out_of_range_is_refused():
    with pytest.raises(ValueError, match="Port out of range"):
        mqtt_url.parse("mqtt://broker.example.org:70000")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mqtt://ingest:s3cret@127.0.0.1:1883", "mqtt://ingest:***@127.0.0.1:1883"),
        ("mqtts://ingest:s3cret@broker.example.org", "mqtts://ingest:***@broker.example.org"),
        ("mqtt://ingest@127.0.0.1:1883", "mqtt://ingest@127.0.0.1:1883"),  # nothing to hide
        ("mqtt://127.0.0.1:1883", "mqtt://127.0.0.1:1883"),
        ("mqtt://ingest:@127.0.0.1", "mqtt://ingest:***@127.0.0.1"),  # even an empty one
    ],
)
def test_redact_hides_the_password_only(url, shown):
    assert mqtt_url.redact(url) == shown


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with GuideBroker(tmp_path_factory.mktemp("broker") / "passwd") as running:
        yield running


def _connect(url: str, ca_file=None) -> mqtt.ReasonCode:
    """Connect a paho client set up by `secure` and return the broker's CONNACK code."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    mqtt_url.secure(client, url, ca_file)
    replies = []
    client.on_connect = lambda _c, _u, _f, code, _p: replies.append(code)
    client.connect(*mqtt_url.parse(url))
    for _ in range(10):  # one network round a try, scaled(1) s at most each
        client.loop(timeout=scaled(1))
        if replies:
            break
    client.disconnect()
    assert replies, "the broker never answered the CONNECT"
    return replies[0]


def test_secure_logs_in_with_the_urls_account(broker):
    assert not _connect(broker.url).is_failure
    wrong = f"mqtt://{SERVER_USER}:not-the-password@{broker.host}:{broker.port}"
    assert _connect(wrong).getName() == "Not authorized"
    assert _connect(f"mqtt://{broker.host}:{broker.port}").getName() == "Not authorized"


def test_secure_decodes_a_percent_encoded_password(tmp_path):
    passwd = tmp_path / "passwd"
    provision.set_mosquitto_password(passwd, "odd-one", "p@ss:w/rd%")
    with GuideBroker(passwd) as broker:
        url = f"mqtt://odd-one:p%40ss%3Aw%2Frd%25@{broker.host}:{broker.port}"
        assert not _connect(url).is_failure


def test_secure_uses_tls_checked_against_the_ca_file(broker):
    assert not _connect(broker.tls_url, broker.ca_file).is_failure
    other_ca = trustme.CA().cert_pem.tempfile()
    with other_ca as path, pytest.raises(ssl.SSLCertVerificationError):
        _connect(broker.tls_url, path)
    # Without a CA file it trusts the system's CAs, which never issued the test certificate.
    with pytest.raises(ssl.SSLCertVerificationError):
        _connect(broker.tls_url)
