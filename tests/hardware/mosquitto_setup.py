"""A real Mosquitto configured exactly as production is: with deploy/mosquitto/'s files.

The broker reads deploy/mosquitto/shelter-signal.conf itself, with only its ports and file
paths swapped for free ports and the test's files (and its commented-out listener for server
parts on other machines turned on), and the deploy ACL unchanged. So a test that passes with
this broker proves the documented set-up works, not a look-alike.

What Debian's main mosquitto.conf adds around the deploy file (the persistence folder,
the log) comes from services.Mosquitto, as for every test broker.
"""

import queue
import signal
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import trustme
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from server import provision
from tests.support.deploy_files import swapped, write_certificate
from tests.support.services import Mosquitto, free_port, wait_for_port
from tests.support.waiting import scaled

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
CONF = DEPLOY / "shelter-signal.conf"
ACL = DEPLOY / "shelter-signal.acl"
SERVER_USER = "signal_server"  # the server's account, as deploy/mosquitto/shelter-signal.acl
SERVER_PASSWORD = "server-test-password"
HOST_NAME = "localhost"  # what the broker's test certificate is issued for, with 127.0.0.1


class GuideBroker(Mosquitto):
    """The production broker: plain listener on `port` (loopback), TLS for dials on
    `tls_port` (each client's id is its user name), and the listener for server parts on
    other machines, commented out in the deploy file and uncommented here, on
    `server_tls_port` (TLS, clients keep their own ids).

    `passwd_file` gets the server's account at once; dials are added to it by
    `device add --mosquitto-passwd`. `url` logs in as the server (what the ingestor and API
    use), `tls_url` the same through the dials' TLS listener, `server_tls_url` through the
    server parts' one; `ca` is the throwaway CA (trustme) that issued the broker's
    certificate, `ca_file` its PEM file.
    """

    def __init__(self, passwd_file: Path):
        self.passwd_file = Path(passwd_file)
        self.tls_port = free_port()
        self.server_tls_port = free_port()
        super().__init__()
        self.ca = trustme.CA()
        self.ca_file = self.dir / "ca.pem"
        self.ca.cert_pem.write_to_path(self.ca_file)
        write_certificate(self.ca, self.dir, "127.0.0.1", HOST_NAME)
        provision.set_mosquitto_password(self.passwd_file, SERVER_USER, SERVER_PASSWORD)

    def _settings(self) -> list[str]:
        text = swapped(
            CONF,
            (
                ("listener 1883 127.0.0.1", f"listener {self.port} {self.host}"),
                ("listener 8883", f"listener {self.tls_port} {self.host}"),
                # The listener for server parts on other machines, uncommented.
                ("#listener 8884 10.0.0.1", f"listener {self.server_tls_port} {self.host}"),
                ("#certfile", "certfile"),
                ("#keyfile", "keyfile"),
                ("#tls_version", "tls_version"),
                ("/etc/mosquitto/shelter-signal/passwd", str(self.passwd_file)),
                ("/etc/mosquitto/shelter-signal.acl", str(ACL)),
                ("/etc/mosquitto/certs/", f"{self.dir}/"),
            ),
        )
        return [text]  # the rest (files, logs) as for every test broker

    def start(self) -> "GuideBroker":
        super().start()
        wait_for_port(self.host, self.tls_port, timeout=10)
        wait_for_port(self.host, self.server_tls_port, timeout=10)
        return self

    @property
    def url(self) -> str:
        return f"mqtt://{SERVER_USER}:{SERVER_PASSWORD}@{self.host}:{self.port}"

    @property
    def tls_url(self) -> str:
        return f"mqtts://{SERVER_USER}:{SERVER_PASSWORD}@{self.host}:{self.tls_port}"

    @property
    def server_tls_url(self) -> str:
        return f"mqtts://{SERVER_USER}:{SERVER_PASSWORD}@{self.host}:{self.server_tls_port}"

    def reload(self) -> None:
        """What `systemctl reload mosquitto` does: read the password and ACL files again."""
        self._process.send_signal(signal.SIGHUP)


class BrokerClient:
    """An MQTT client that reports the broker's reason codes (CONNACK, PUBACK, SUBACK).

    `connected` is the CONNACK's reason code (`.is_failure` when refused) and
    `session_present` its flag; `disconnects` collects every loss of the connection (paho
    reconnects by itself); `messages` collects the topics delivered to it, in order, and
    `payloads` the newest payload of each. With `ca_file` it uses TLS. MQTT 5 unless
    `v311` (as the dials speak it); a client id of its own unless `client_id` is given;
    `session_expiry` seconds (MQTT 5) keeps its session, as the ingestor does.
    """

    def __init__(
        self,
        port: int,
        user: str,
        password: str,
        ca_file: Path | None = None,
        *,
        client_id: str | None = None,
        v311: bool = False,
        session_expiry: int = 0,
        will: tuple[str, bytes] | None = None,
    ):
        self.replies: queue.Queue = queue.Queue()
        self.messages: queue.Queue = queue.Queue()
        self.disconnects: queue.Queue = queue.Queue()
        self.payloads: dict[str, bytes] = {}
        self.session_present = False
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            # By default several clients of one user at once.
            client_id=client_id or f"{user}-{uuid.uuid4().hex[:6]}",
            protocol=mqtt.MQTTv311 if v311 else mqtt.MQTTv5,
        )
        if ca_file:
            self.client.tls_set(ca_certs=str(ca_file))
        self.client.username_pw_set(user, password)
        if will:
            self.client.will_set(*will, qos=1)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda _c, _u, _f, code, _p: self.disconnects.put(code)
        self.client.on_publish = lambda _c, _u, _mid, code, _p: self.replies.put(code)
        self.client.on_subscribe = lambda _c, _u, _mid, codes, _p: self.replies.put(codes[0])
        self.client.on_message = self._on_message
        options = {}
        if session_expiry:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = session_expiry
            options = {"clean_start": False, "properties": properties}
        self.client.connect("127.0.0.1", port, **options)
        self.client.loop_start()
        self.connected = self.replies.get(timeout=scaled(10))

    def _on_connect(self, _client, _userdata, flags, code, _properties):
        self.session_present = flags.session_present
        self.replies.put(code)

    def _on_message(self, _client, _userdata, message):
        self.payloads[message.topic] = message.payload
        self.messages.put(message.topic)

    def publish(self, topic: str, payload: bytes = b"{}", retain: bool = False):
        self.client.publish(topic, payload, qos=1, retain=retain)
        return self.replies.get(timeout=scaled(10))

    def subscribe(self, topic: str):
        self.client.subscribe(topic, qos=1)
        return self.replies.get(timeout=scaled(10))

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()
