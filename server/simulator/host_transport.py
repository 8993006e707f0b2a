"""The firmware transport interface (see firmware/dialcore/app.py) over paho-mqtt.

paho runs its network loop in a thread; everything it reports is handed to the
asyncio loop the App runs in, so the App sees the same single-threaded world as on
the ESP32 with mqtt_as.
"""

import asyncio
import contextlib
from pathlib import Path

import paho.mqtt.client as mqtt

from server import mqtt_url

KEEPALIVE_S = 30  # as on the device: the broker sends the last will within 45 s of a silent loss


class HostTransport:
    def __init__(
        self,
        url: str,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        ca_file: Path | None = None,
    ):
        self.host, self.port = mqtt_url.parse(url)
        self.connected = False
        self._acks: dict[int, asyncio.Future] = {}  # mid -> waiting publish
        # A clean session, as the device uses: what was lost while offline is replayed.
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        mqtt_url.secure(self._client, url, ca_file)  # TLS (and an account) as the URL says
        if username:  # the dial's own broker account (server/provision.py), as the firmware logs in
            self._client.username_pw_set(username, password)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def connect(self, will, on_message, on_up, on_down) -> None:
        self._loop = loop = asyncio.get_running_loop()
        topic, payload, retain, qos = will
        client = self._client
        client.will_set(topic, payload, qos=qos, retain=retain)

        def connected(_c, _u, _f, reason_code, _p):
            if not reason_code.is_failure:
                loop.call_soon_threadsafe(self._up, on_up)

        def disconnected(_c, _u, _f, _reason_code, _p):
            loop.call_soon_threadsafe(self._down, on_down)

        def published(_c, _u, mid, _reason_code, _p):
            loop.call_soon_threadsafe(self._resolve, mid)

        client.on_connect = connected
        client.on_disconnect = disconnected
        client.on_publish = published
        client.on_message = lambda _c, _u, m: loop.call_soon_threadsafe(
            on_message, m.topic, m.payload
        )
        client.connect_async(self.host, self.port, keepalive=KEEPALIVE_S)
        client.loop_start()

    def _up(self, on_up) -> None:
        self.connected = True
        task = asyncio.ensure_future(on_up())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # no "never retrieved"

    def _down(self, on_down) -> None:
        self.connected = False
        for future in self._acks.values():
            if not future.done():
                future.set_exception(OSError("connection lost"))
        self._acks.clear()
        on_down()

    def _resolve(self, mid: int) -> None:
        future = self._acks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(None)

    async def publish(self, topic: str, payload: bytes, retain: bool = False, qos: int = 0) -> None:
        """Return once the broker has it (PUBACK for QoS 1); OSError if the link is down."""
        if not self.connected:
            raise OSError("not connected")
        future = asyncio.get_running_loop().create_future()
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise OSError(f"publish failed: {mqtt.error_string(info.rc)}")
        # Registered before this loop can run the on_publish hand-over for this mid.
        self._acks[info.mid] = future
        await future

    async def subscribe(self, topic: str, qos: int = 0) -> None:
        self._client.subscribe(topic, qos)

    async def disconnect(self) -> None:
        with contextlib.suppress(Exception):
            self._client.disconnect()
        self._client.loop_stop()
        self.connected = False
