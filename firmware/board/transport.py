"""The dialcore transport interface (see dialcore/app.py) on Peter Hinch's mqtt_as.

mqtt_as (https://github.com/peterhinch/micropython-mqtt, installed in the board's lib/ by
`shelter-signal device flash`: server/provision.py) owns Wi-Fi and the broker
link and reconnects by itself after the first connection. What this layer adds:

- connect() returns at once and keeps trying the *first* connection in the background
  (mqtt_as raises if that one fails), so the dial works offline from power-up;
- on_up after every connection (mqtt_as's connect_coro), on_down on every loss
  (its wifi_coro with False);
- publish/subscribe raise OSError when the link is down or drops, where mqtt_as would
  wait for the next connection: the App replays its newest commit on_up, so nothing
  waits on a dead link. Cancelling happens with the client's lock held, as mqtt_as's
  README advises;
- TLS with the broker's certificate verified against mqtt_ca_file when mqtt_tls is set,
  its handshake done on mqtt_as's non-blocking socket (do_handshake=False): wrap_socket()
  would otherwise run the whole handshake in one blocking call, which hangs for good when
  the broker accepts TCP and then says nothing (mqtt_as issue 171). Each read and write of
  the handshake is then bounded by mqtt_as's response time like any packet, and the dial
  goes on counting meanwhile;
- user name and password as UTF-8 bytes: mqtt_as sizes strings with len(), which counts
  characters, so a non-ASCII password given as str made a malformed CONNECT.
"""

import asyncio

import network
from mqtt_as import MQTTClient  # pyright: ignore[reportMissingImports]  (device flash puts it in lib/)
from mqtt_as import config as mqtt_defaults  # pyright: ignore[reportMissingImports]

KEEPALIVE_S = 30  # as the simulator: the broker sends the "lost" will ~45 s after a silent loss
RESPONSE_S = 10  # no PUBACK/SUBACK this long: resend (mqtt_as); 4 resends and it reconnects
FIRST_RETRY_S = (2, 5, 10, 30, 60)  # first connection failed: try again after these waits
# The first connection's whole attempt: Wi-Fi (mqtt_as allows it 60 s, then checks it 5 s),
# the name lookup, TCP, TLS and CONNECT (RESPONSE_S per step). Beyond this it is stuck.
CONNECT_S = 120


def read_ca(path):
    """The CA certificate bytes for TLS; ValueError naming the config key if unreadable."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        raise ValueError("mqtt_ca_file: cannot read " + path + " on the device") from None


class _Call:
    """One mqtt_as call under way: whether it finished, and what it raised."""

    def __init__(self):
        self.done = asyncio.Event()  # set when the call ends or the link drops
        self.finished = False
        self.error = None

    async def run(self, coro):
        try:
            await coro
        except Exception as e:  # handed to the waiting caller, which raises it
            self.error = e
        self.finished = True
        self.done.set()


class MqttTransport:
    def __init__(self, cfg):
        self.connected = False
        self._cfg = cfg
        self._ca = read_ca(cfg["mqtt_ca_file"]) if cfg["mqtt_tls"] else None
        self._client = None  # the MQTTClient, from connect() on
        self._waiting = []  # the _Calls under way

    def _mqtt_config(self, will, on_message, on_up, on_down):
        cfg = self._cfg
        c = dict(mqtt_defaults)
        c["client_id"] = cfg["device_id"].encode()  # mqtt_as wants bytes; the id is ASCII
        c["server"] = cfg["mqtt_host"]
        c["port"] = cfg["mqtt_port"]
        c["user"] = (cfg["mqtt_user"] or "").encode()
        c["password"] = (cfg["mqtt_password"] or "").encode()
        c["ssid"] = cfg["wifi_ssid"]
        c["wifi_pw"] = cfg["wifi_password"]
        c["keepalive"] = KEEPALIVE_S
        c["response_time"] = RESPONSE_S
        c["clean"] = c["clean_init"] = True  # clean sessions; the App replays what was lost
        c["queue_len"] = 0  # callback interface
        c["will"] = will  # (topic, payload, retain, qos): mqtt_as takes the same order
        # mqtt_as hands over topic and payload as bytes; the App parses str topics.
        c["subs_cb"] = lambda topic, msg, retained: on_message(topic.decode(), msg)

        async def connected(_client):  # connect_coro: the broker connection is up
            print("mqtt: connected to", cfg["mqtt_host"])
            self.connected = True
            try:
                await on_up()
            except OSError as e:  # lost again while subscribing: the next connection repeats it
                print("mqtt: link lost during on_up:", repr(e))

        async def link(up):  # wifi_coro: True after each connection, False on a loss
            if not up and self.connected:
                print("mqtt: link lost")
                self.connected = False
                for call in self._waiting:  # wake every call waiting on this link
                    call.done.set()
                on_down()

        c["connect_coro"] = connected
        c["wifi_coro"] = link
        if self._ca is not None:
            import ssl

            c["ssl"] = True
            c["ssl_params"] = {
                "server_hostname": cfg["mqtt_host"],  # SNI, and the name the cert must carry
                "cert_reqs": ssl.CERT_REQUIRED,  # on mbedtls only REQUIRED verifies anything
                "cadata": self._ca,
                "do_handshake": False,  # on the non-blocking socket, bounded (docstring)
            }
        return c

    async def connect(self, will, on_message, on_up, on_down):
        client = MQTTClient(self._mqtt_config(will, on_message, on_up, on_down))
        self._client = client
        self._starting = asyncio.create_task(self._first_connection(client))

    async def _first_connection(self, client):
        failures = 0
        while True:
            try:
                await asyncio.wait_for(client.connect(), CONNECT_S)
                return  # from here on mqtt_as reconnects by itself
            except Exception as e:  # OSError mostly; TLS errors vary: keep trying, say why
                print("mqtt: first connection failed:", repr(e))
            wait = FIRST_RETRY_S[min(failures, len(FIRST_RETRY_S) - 1)]
            failures += 1
            try:  # as mqtt_as does between its own attempts: start Wi-Fi afresh
                network.WLAN(network.STA_IF).disconnect()
            except OSError:
                pass
            await asyncio.sleep(wait)

    def _up(self):
        """The client, while the link is up; OSError otherwise."""
        client = self._client
        if client is None or not self.connected:
            raise OSError("not connected")
        return client

    async def _while_up(self, client, coro):
        """Await coro, an mqtt_as call; OSError instead of waiting if the link drops meanwhile."""
        call = _Call()
        task = asyncio.create_task(call.run(coro))
        self._waiting.append(call)
        try:
            await call.done.wait()
        finally:
            self._waiting.remove(call)
        if not call.finished:  # the link dropped: stop mqtt_as waiting for the next one
            async with client.lock:  # never cut a packet in half
                task.cancel()
            raise OSError("connection lost")
        if call.error is not None:
            raise call.error

    async def publish(self, topic, payload, retain=False, qos=0):
        client = self._up()
        await self._while_up(client, client.publish(topic, payload, retain, qos))

    async def subscribe(self, topic, qos=0):
        client = self._up()
        await self._while_up(client, client.subscribe(topic, qos))

    async def disconnect(self):
        self.connected = False
        if self._client is not None:
            await self._client.disconnect()
