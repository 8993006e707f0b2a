"""The ingestor: a paho-mqtt client that commits each message before acknowledging it.

It keeps a persistent session under a stable client id, so QoS 1 messages that arrive
while it is down wait in the broker. With manual_ack the broker sees our PUBACK only
after the database commit: a crash before the commit means the broker sends it again,
and the (device, boot, seq) key makes the second copy harmless.
"""

import logging
import threading

import paho.mqtt.client as mqtt
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server import mqtt_url
from server.devices import all_configs
from server.ingest.handler import handle

log = logging.getLogger(__name__)
SUBSCRIPTION = (
    "signal/#"  # everything, so messages of an unknown protocol version are dead-lettered too
)
KEEPALIVE_S = 30  # the broker notices a dead ingestor within 1.5x this


class Ingestor:
    def __init__(self, engine: Engine, url: str, client_id: str, max_payload: int):
        self.engine = engine
        self.max_payload = max_payload
        self.host, self.port = mqtt_url.parse(url)
        self.connected = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=KEEPALIVE_S)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish_configs(self) -> None:
        """(Re)publish every device's retained config; devices apply only newer versions."""
        with Session(self.engine) as session:
            for topic, payload in all_configs(session):
                self.client.publish(topic, payload, qos=1, retain=True)

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties):
        if reason_code.is_failure:
            log.error("broker refused the ingestor: %s", reason_code)
            return
        log.info("ingestor connected to %s:%s", self.host, self.port)
        client.subscribe(SUBSCRIPTION, qos=1)
        self.publish_configs()
        self.connected.set()

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties):
        self.connected.clear()
        if reason_code.is_failure:
            log.warning("ingestor lost the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, _userdata, message):
        try:
            with Session(self.engine) as session:
                outcome = handle(session, message.topic, message.payload, self.max_payload)
                session.commit()
        except Exception:  # the database failed: no ack, so the broker keeps the message
            log.exception("could not store message on %s; it stays unacknowledged", message.topic)
            return
        for topic, payload in outcome.replies:
            client.publish(topic, payload, qos=1)
        client.ack(message.mid, message.qos)
