"""The firmware transport interface (see firmware/dialcore/app.py) over paho-mqtt.

paho's network work runs on the asyncio loop the App runs in (paho's external-loop API:
its socket is watched by the loop, whose callbacks call loop_read and loop_write), so the
App sees the same single-threaded world as on the ESP32 with mqtt_as. No thread per dial:
paho's own loop thread waits in select(), which fails for a socket numbered 1024 or more,
and each thread holds three, so one process could run at most about 340 dials (the demo
offers up to 500).
"""

import asyncio
import contextlib
from pathlib import Path

import paho.mqtt.client as mqtt

from server import mqtt_url

KEEPALIVE_S = 30  # as on the device: the broker sends the last will within 45 s of a silent loss
RECONNECT_S = (1, 30)  # first and longest pause between connection attempts (doubling)
MISC_S = 1.0  # how often paho checks its keepalive (it sends a ping when one is due)
DISCONNECT_S = 2.0  # how long a DISCONNECT may take to go out before the socket is closed


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
        mqtt_url.secure(self._client, url, ca_file)  # TLS (and an account) as the URL says
        if username:  # the dial's own broker account (server/provision.py), as the firmware logs in
            self._client.username_pw_set(username, password)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._linked: asyncio.Task | None = None

    async def connect(self, will, on_message, on_up, on_down) -> None:
        """Start connecting, and reconnecting after every loss, until disconnect()."""
        self._loop = asyncio.get_running_loop()
        topic, payload, retain, qos = will
        client = self._client
        client.will_set(topic, payload, qos=qos, retain=retain)

        def connected(_c, _u, _f, reason, _p):
            if not reason.is_failure:
                self._up(on_up)

        client.on_connect = connected
        client.on_disconnect = lambda _c, _u, _f, _reason, _p: self._down(on_down)
        client.on_publish = lambda _c, _u, mid, _reason, _p: self._resolve(mid)
        client.on_message = lambda _c, _u, message: on_message(message.topic, message.payload)
        client.connect_async(self.host, self.port, keepalive=KEEPALIVE_S)  # no I/O yet
        self._linked = asyncio.create_task(self._stay_linked())

    async def _stay_linked(self) -> None:
        pause = RECONNECT_S[0]
        while True:
            if await self._link():
                pause = RECONNECT_S[0]
                while self._client.loop_misc() == mqtt.MQTT_ERR_SUCCESS:
                    await asyncio.sleep(MISC_S)
            await asyncio.sleep(pause)
            pause = min(pause * 2, RECONNECT_S[1])

    async def _link(self) -> bool:
        """Open the socket (TCP, TLS, CONNECT written) and have the loop watch it."""
        client = self._client
        self._watch(False)  # paho's socket callbacks would run on the worker thread
        try:
            # In a worker thread: the TCP and TLS handshakes block, up to seconds.
            await asyncio.to_thread(client.reconnect)
        except OSError:  # refused, unreachable, timed out, TLS (ssl.SSLError is an OSError)
            return False
        self._watch(True)
        sock = client.socket()
        self._loop.add_reader(sock, client.loop_read)
        if client.want_write():
            self._loop.add_writer(sock, client.loop_write)
        return True

    def _watch(self, on: bool) -> None:
        """Let paho tell the loop what to watch on its socket (or not)."""
        loop, client = self._loop, self._client

        def forget(_c, _u, sock):
            loop.remove_reader(sock)
            loop.remove_writer(sock)

        client.on_socket_close = forget if on else None
        client.on_socket_register_write = (
            (lambda _c, _u, sock: loop.add_writer(sock, client.loop_write)) if on else None
        )
        client.on_socket_unregister_write = (
            (lambda _c, _u, sock: loop.remove_writer(sock)) if on else None
        )

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
        # paho reports the PUBACK from loop_read, which this loop runs only after we await.
        self._acks[info.mid] = future
        await future

    async def subscribe(self, topic: str, qos: int = 0) -> None:
        self._client.subscribe(topic, qos)

    async def disconnect(self) -> None:
        if self._linked:
            self._linked.cancel()
        with contextlib.suppress(Exception):
            self._client.disconnect()  # paho closes the socket once the DISCONNECT is out
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DISCONNECT_S):
                while self._client.socket() is not None:
                    await asyncio.sleep(0.01)
        if sock := self._client.socket():  # the broker is not reading: close it ourselves
            self.fall_silent()
            sock.close()
        self.connected = False

    def fall_silent(self) -> None:
        """Stop mid-whatever, as at a power cut: no DISCONNECT, nothing more read or written,
        and the socket left open, so the broker notices only when the keepalive runs out."""
        if self._linked:
            self._linked.cancel()
        if sock := self._client.socket():
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)
