"""The ingestor: a paho-mqtt client that commits messages before acknowledging them.

It keeps a persistent session under a stable client id, so QoS 1 messages that arrive
while it is down wait in the broker. With manual acks the broker sees our PUBACK only
after the database commit: a crash before the commit means the broker sends the message
again, and the (device, boot, seq) key makes the second copy harmless.

paho's network thread only queues what arrives; one worker thread stores it in batches
(one transaction for up to `batch_size` messages that are already waiting, handled together
by handler.handle_batch), so a burst costs one commit and a few statements instead of
hundreds. While the database is unreachable the worker keeps retrying the same batch and
acknowledges nothing. After a commit that changed what the map shows, PostgreSQL notifies
the event streams (server/db.py notify_changes).

Metrics (server/metrics.py INGEST) count every message once it is acknowledged.

With `shared_group` set, it subscribes through an MQTT 5 shared subscription
(`$share/<group>/signal/#`): the broker splits the messages among every ingestor of the
group. That needs an MQTT 5 broker such as Mosquitto; the embedded broker speaks 3.1.1.
"""

import logging
import queue
import socket
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlmodel import Session, col, select

from server import metrics, mqtt_url
from server.db import notify_changes
from server.devices import config_message, remember_configs
from server.firmware import ota_due, ota_message
from server.ingest.handler import Outcome, handle_batch, internal_error
from server.models import Device

log = logging.getLogger(__name__)
TOPICS = "signal/#"  # everything, so messages of an unknown protocol version are dead-lettered too
KEEPALIVE_S = 30  # the broker notices a dead ingestor within 1.5x this
SESSION_EXPIRY_S = 7 * 24 * 3600  # MQTT 5: the broker keeps our queue through a week-long outage
RETRY_MAX_S = 30  # longest pause between attempts while the database is down
WAIT_S = 0.2  # how long the worker waits for a message before checking whether to stop
CONFIG_CHECK_S = 1.0  # how often changed configs and firmware targets (admin edits) are looked for
CONFIG_PUBLISH_TIMEOUT_S = 10  # a config the broker has not taken by then waits for a reconnect


class Ingestor:
    def __init__(
        self,
        engine: Engine,
        url: str,
        client_id: str,
        max_payload: int,
        batch_size: int = 200,
        shared_group: str | None = None,
        ca_file: Path | None = None,
        zone: ZoneInfo | None = None,  # the city's: when alert programs open (None: settings)
    ):
        self.engine = engine
        self.zone = zone
        self.max_payload = max_payload
        self.batch_size = batch_size
        self.host, self.port = mqtt_url.parse(url)
        self.topic = f"$share/{shared_group}/{TOPICS}" if shared_group else TOPICS
        self.connected = threading.Event()
        self.stored = 0  # messages handled and acknowledged (ours on signal/# included)
        self._inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._stopping = threading.Event()
        self._configs_due: str | None = "every"  # set on (re)connect: publish all configs
        self._worker = threading.Thread(target=self._work, name="ingest-worker", daemon=True)
        self.v5 = shared_group is not None
        if self.v5:
            self.client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2,
                client_id=client_id,
                protocol=mqtt.MQTTv5,
                manual_ack=True,
            )
        else:
            self.client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2,
                client_id=client_id,
                clean_session=False,
                protocol=mqtt.MQTTv311,
                manual_ack=True,
            )
        mqtt_url.secure(self.client, url, ca_file)
        self.client.on_socket_open = _no_delay
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)

    def start(self) -> None:
        self._worker.start()
        if self.v5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = SESSION_EXPIRY_S
            self.client.connect_async(
                self.host, self.port, KEEPALIVE_S, clean_start=False, properties=properties
            )
        else:
            self.client.connect_async(self.host, self.port, keepalive=KEEPALIVE_S)
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect, then finish what is queued (unacknowledged messages return later)."""
        self._stopping.set()  # first: a config publish in progress stops waiting at once
        self.client.disconnect()
        self.client.loop_stop()
        self._worker.join(timeout=10)

    def publish_configs(self, every: bool = False) -> None:
        """Publish the retained config of every device whose config changed (or of `every`
        device) and note the version sent; dials apply only versions newer than theirs."""
        with Session(self.engine) as session:
            query = select(Device)
            if not every:
                query = query.where(
                    or_(
                        col(Device.published_config_version).is_(None),
                        col(Device.published_config_version) != col(Device.config_version),
                    )
                )
            messages = [
                (device, *config_message(session, device, self.zone), device.config_version)
                for device in session.exec(query).all()
            ]
            # before a dial can get one: its states are checked against it from then on
            remember_configs(session, [(d.id, payload) for d, _topic, payload, _v in messages])
            session.commit()  # end the read: messages are stored while we wait (see below)
            for device, version in self._publish_retained(messages):
                device.published_config_version = version
                session.add(device)
            session.commit()

    def publish_otas(self, every: bool = False) -> None:
        """Publish the retained `ota` order of every device whose firmware target changed
        (the manifest, or the withdrawal when a rollout stopped), or after a reconnect of
        `every` device with a target, and note what was sent (server/firmware.py)."""
        with Session(self.engine) as session:
            manifests: dict[str, list] = {}  # one query per release, not one per dial
            messages = [
                (device, *ota_message(session, device, manifests), device.target_firmware)
                for device in session.exec(ota_due(every)).all()
            ]
            session.commit()  # end the read: messages are stored while we wait (see below)
            for device, target in self._publish_retained(messages):
                device.published_target_firmware = target
                session.add(device)
            session.commit()

    def _publish_retained(self, messages: list[tuple[Device, str, bytes, object]]) -> list:
        """Publish (device, topic, payload, note) retained at QoS 1; return the (device, note)
        pairs the broker took. All are published first, then waited for: one round trip, not
        one each. Whatever is not taken waits for the next connection, which sends again."""
        sent = []
        for device, topic, payload, note in messages:
            info = self.client.publish(topic, payload, qos=1, retain=True)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                break  # not connected
            sent.append((device, note, info))
        deadline = time.monotonic() + CONFIG_PUBLISH_TIMEOUT_S
        taken = []
        for device, note, info in sent:
            while not info.is_published() and time.monotonic() < deadline:
                if self._stopping.is_set():  # shutting down: don't hold Ctrl-C up
                    return taken
                # Meanwhile store (and acknowledge) what arrives. rumqttd, the embedded
                # broker, answers no PUBACK to a client holding 100 of its messages
                # unacknowledged, and each config comes back to us on signal/#: 500 configs
                # stalled here for CONFIG_PUBLISH_TIMEOUT_S a round, a hundred at a time.
                self._store_next(timeout=0.005)
            if not info.is_published():
                break  # the broker went away
            taken.append((device, note))
        return taken

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        self._inbox.put(message)
        metrics.QUEUED.inc()

    def _on_connect(self, client, _userdata, flags, reason_code, _properties):
        if reason_code.is_failure:
            log.error("broker refused the ingestor: %s", reason_code)
            return
        log.info("ingestor connected to %s:%s (%s)", self.host, self.port, self.topic)
        self._configs_due = "every"  # the worker publishes them (waiting here would block paho)
        if flags.session_present:  # a kept session keeps its subscription too; subscribing
            self._set_connected()  # again would replay every retained message
        else:  # connected once the broker confirms the subscription: a message published
            client.subscribe(self.topic, qos=1)  # before that would reach nobody

    def _on_subscribe(self, _client, _userdata, _mid, reason_codes, _properties):
        if any(code.is_failure for code in reason_codes):
            log.error(
                "broker refused the ingestor's subscription to %s: %s", self.topic, reason_codes
            )
            return
        self._set_connected()

    def _set_connected(self) -> None:
        if not self.connected.is_set():
            metrics.CONNECTED.inc()
        self.connected.set()

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties):
        if self.connected.is_set():
            metrics.CONNECTED.dec()
        self.connected.clear()
        if reason_code.is_failure:
            log.warning("ingestor lost the broker (%s); reconnecting", reason_code)

    def _work(self) -> None:
        next_config_check = 0.0
        while not (self._stopping.is_set() and self._inbox.empty()):
            if self.connected.is_set() and (
                self._configs_due or time.monotonic() >= next_config_check
            ):
                self._send_configs()
                next_config_check = time.monotonic() + CONFIG_CHECK_S
            self._store_next(timeout=WAIT_S)

    def _store_next(self, timeout: float) -> None:
        """Store what waits, up to batch_size messages, once one has come within `timeout`."""
        try:
            batch = [self._inbox.get(timeout=timeout)]
        except queue.Empty:
            return
        while len(batch) < self.batch_size:
            try:
                batch.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        self._store(batch)
        metrics.QUEUED.dec(len(batch))

    def _send_configs(self) -> None:
        """Publish changed configs and update orders (all of them after a reconnect)."""
        every, self._configs_due = self._configs_due == "every", None
        for publish in (self.publish_configs, self.publish_otas):
            try:
                publish(every)
            except Exception:  # never let the worker die of it: ingest matters more
                log.exception("could not publish device %s; trying again shortly", publish.__name__)

    def _store(self, batch: list[mqtt.MQTTMessage]) -> None:
        """Commit the batch, then answer and acknowledge each message, in arrival order."""
        pause = 1
        raced = False  # one message refused as a duplicate key once: maybe another ingestor's
        while True:
            try:
                started = time.monotonic()
                outcomes = self._commit(batch)
                metrics.COMMIT.observe(time.monotonic() - started)
                metrics.BATCH.observe(len(batch))
                break
            except IntegrityError as error:
                if len(batch) > 1:  # another ingestor stored one of these first: one by one
                    for message in batch:
                        self._store([message])
                    return
                if not raced:  # the retry finds the stored copy and treats it as a duplicate
                    raced = True
                    continue
                outcomes = [self._record_bug(batch[0], error)]  # refused again: not a race
                break
            except _Bug as bug:  # our code failed on a message: isolate it, keep the rest
                if len(batch) > 1:
                    for message in batch:
                        self._store([message])
                    return
                outcomes = [self._record_bug(batch[0], bug.__cause__)]
                break
            except DBAPIError:
                metrics.DATABASE_ERRORS.inc()
                log.exception("database unavailable; %d messages wait, unacknowledged", len(batch))
                if self._stopping.wait(pause):
                    return  # shutting down: the broker delivers them again to the next ingestor
                pause = min(pause * 2, RETRY_MAX_S)
        for message, outcome in zip(batch, outcomes, strict=True):
            for topic, payload in outcome.replies:
                self.client.publish(topic, payload, qos=1)
            self.client.ack(message.mid, message.qos)
            self.stored += 1
        _count(batch, outcomes)

    def _commit(self, batch: list[mqtt.MQTTMessage]) -> list[Outcome]:
        with Session(self.engine) as session:
            messages = [(message.topic, message.payload) for message in batch]
            try:
                outcomes = handle_batch(session, messages, self.max_payload, self.zone)
                if any(outcome.changed for outcome in outcomes):
                    notify_changes(session)
                session.commit()
            except DataError as e:  # a value the database refuses: that message's fault
                raise _Bug from e
            except DBAPIError:  # the database is away (or another ingestor won a race)
                raise
            except Exception as e:
                raise _Bug from e
            return outcomes

    def _record_bug(self, message: mqtt.MQTTMessage, error: BaseException) -> Outcome:
        log.error("could not handle message on %s", message.topic, exc_info=error)
        with Session(self.engine) as session:
            outcome = internal_error(session, message.topic, message.payload, error)
            session.commit()
        return outcome


def _count(batch: list[mqtt.MQTTMessage], outcomes: list[Outcome]) -> None:
    """Metrics of an acknowledged batch. Lag is from paho's receipt of each message (its
    monotonic `timestamp`) to now, just after its ack; age is from a state's own time."""
    now, wall = time.monotonic(), time.time()
    for message, outcome in zip(batch, outcomes, strict=True):
        metrics.MESSAGES.labels(outcome.result).inc()
        metrics.LAG.observe(now - message.timestamp)
        if outcome.code:
            metrics.REJECTED.labels(outcome.code).inc()
        if outcome.readings:
            metrics.READINGS.inc(outcome.readings)
            if outcome.ts:  # a dial's clock may run ahead by a little: no negative ages
                metrics.AGE.observe(max(0.0, wall - outcome.ts))


def _no_delay(_client, _userdata, sock) -> None:
    """Send each small ack at once: with Nagle's algorithm on, TCP holds some back for
    40 ms waiting for more data (docs/benchmarks.md measured the stalls)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Bug(Exception):
    """Raised from _commit when a message made our code fail, or held a value the database
    refuses (not when the database itself is away)."""
