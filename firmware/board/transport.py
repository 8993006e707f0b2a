"""The dialcore transport interface (see dialcore/app.py) on Peter Hinch's mqtt_as.

mqtt_as (https://github.com/peterhinch/micropython-mqtt, installed with
`mpremote mip install github:peterhinch/micropython-mqtt`) owns Wi-Fi and the broker
link and reconnects by itself after the first connection. What this layer adds:

- connect() returns at once and keeps trying the *first* connection in the background
  (mqtt_as raises if that one fails), so the dial works offline from power-up;
- on_up after every connection (mqtt_as's connect_coro), on_down on every loss
  (its wifi_coro with False);
- publish/subscribe raise OSError when the link drops, where mqtt_as would wait for the
  next connection: the App replays its newest commit on_up, so nothing waits on a dead
  link. Cancelling happens with the client's lock held, as mqtt_as's README advises;
- TLS with the broker's certificate verified against mqtt_ca_file when mqtt_tls is set.
"""

import asyncio

import network
from mqtt_as import MQTTClient
from mqtt_as import config as mqtt_defaults

KEEPALIVE_S = 30  # as the simulator: the broker sends the "lost" will ~45 s after a silent loss
RESPONSE_S = 10  # no PUBACK/SUBACK this long: resend (mqtt_as); 4 resends and it reconnects
FIRST_RETRY_S = (2, 5, 10, 30, 60)  # first connection failed: try again after these waits


def read_ca(path):
    """The CA certificate bytes for TLS; ValueError naming the config key if unreadable."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        raise ValueError("mqtt_ca_file: cannot read " + path + " on the device") from None


class MqttTransport:
    def __init__(self, cfg):
        self.connected = False
        self._cfg = cfg
        self._ca = read_ca(cfg["mqtt_ca_file"]) if cfg["mqtt_tls"] else None
        self._client = None
        self._on_up = self._on_down = None
        self._waiting = []  # Events of the publish/subscribe calls under way

    def _mqtt_config(self, will, on_message):
        cfg = self._cfg
        c = dict(mqtt_defaults)
        c["client_id"] = cfg["device_id"].encode()  # mqtt_as wants bytes; the id is ASCII
        c["server"] = cfg["mqtt_host"]
        c["port"] = cfg["mqtt_port"]
        c["user"] = cfg["mqtt_user"] or ""
        c["password"] = cfg["mqtt_password"] or ""
        c["ssid"] = cfg["wifi_ssid"]
        c["wifi_pw"] = cfg["wifi_password"]
        c["keepalive"] = KEEPALIVE_S
        c["response_time"] = RESPONSE_S
        c["clean"] = c["clean_init"] = True  # clean sessions; the App replays what was lost
        c["queue_len"] = 0  # callback interface
        c["will"] = will  # (topic, payload, retain, qos): mqtt_as takes the same order
        # mqtt_as hands over topic and payload as bytes; the App parses str topics.
        c["subs_cb"] = lambda topic, msg, retained: on_message(topic.decode(), msg)
        c["connect_coro"] = self._connected
        c["wifi_coro"] = self._link
        if self._ca is not None:
            import ssl

            c["ssl"] = True
            c["ssl_params"] = {
                "server_hostname": cfg["mqtt_host"],  # SNI, and the name the cert must carry
                "cert_reqs": ssl.CERT_REQUIRED,  # on mbedtls only REQUIRED verifies anything
                "cadata": self._ca,
            }
        return c

    async def connect(self, will, on_message, on_up, on_down):
        self._on_up, self._on_down = on_up, on_down
        self._client = MQTTClient(self._mqtt_config(will, on_message))
        self._starting = asyncio.create_task(self._first_connection())

    async def _first_connection(self):
        failures = 0
        while True:
            try:
                await self._client.connect()
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

    async def _connected(self, _client):  # mqtt_as connect_coro: broker connection is up
        print("mqtt: connected to", self._cfg["mqtt_host"])
        self.connected = True
        try:
            await self._on_up()
        except OSError as e:  # lost again while subscribing: the next connection repeats this
            print("mqtt: link lost during on_up:", repr(e))

    async def _link(self, up):  # mqtt_as wifi_coro: True after each connection, False on loss
        if not up and self.connected:
            print("mqtt: link lost")
            self.connected = False
            for done in self._waiting:  # wake every call waiting on this link
                done.set()
            self._on_down()

    async def _run(self, coro, outcome, done):
        try:
            await coro
            outcome[0] = None
        except Exception as e:  # handed to the waiting caller, which raises it
            outcome[0] = e
        done.set()

    async def _while_up(self, method, *args):
        """Await an mqtt_as call; OSError instead of waiting if the link drops meanwhile."""
        if not self.connected:
            raise OSError("not connected")
        done = asyncio.Event()  # set when the call ends or the link drops
        outcome = [done]  # the Event itself: no outcome yet
        task = asyncio.create_task(self._run(method(*args), outcome, done))
        self._waiting.append(done)
        try:
            await done.wait()
        finally:
            self._waiting.remove(done)
        if outcome[0] is done:  # the link dropped: stop mqtt_as waiting for the next one
            async with self._client.lock:  # never cut a packet in half
                task.cancel()
            raise OSError("connection lost")
        if outcome[0] is not None:
            raise outcome[0]

    async def publish(self, topic, payload, retain=False, qos=0):
        await self._while_up(self._client.publish, topic, payload, retain, qos)

    async def subscribe(self, topic, qos=0):
        await self._while_up(self._client.subscribe, topic, qos)

    async def disconnect(self):
        self.connected = False
        if self._client is not None:
            await self._client.disconnect()
