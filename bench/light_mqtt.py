"""A small asyncio MQTT 3.1.1 client for load generation: thousands of connections in one
process and one thread, where paho-mqtt needs a thread per client.

It speaks only what a dial uses (docs/protocol.md): CONNECT with a clean session, a
keepalive and a last will; SUBSCRIBE; PUBLISH at QoS 0 or 1 (retained or not); PUBACK for
what the broker delivers at QoS 1; PINGREQ. The payloads are the caller's, built with
firmware.dialcore.protocol, so what goes on the wire is what a dial sends. No reconnects, no
QoS 2, no TLS: a benchmark on loopback needs none of them.
"""

import asyncio
import struct
from collections.abc import Callable

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14


def _string(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("!H", len(data)) + data


def _packet(kind: int, flags: int, body: bytes) -> bytes:
    """Fixed header (type, flags, remaining length as a base-128 varint) and body."""
    header, length = bytearray([kind << 4 | flags]), len(body)
    while True:
        byte, length = length % 128, length // 128
        header.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(header) + body


class LightClient:
    """One MQTT connection. `on_message(topic, payload)` is called for every delivery."""

    def __init__(self, client_id: str, on_message: Callable[[str, bytes], None] | None = None):
        self.client_id = client_id
        self.on_message = on_message or (lambda _topic, _payload: None)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._waiting: dict[int, asyncio.Future] = {}  # packet id -> PUBACK or SUBACK
        self._next_id = 0
        self._tasks: list[asyncio.Task] = []

    async def connect(
        self,
        host: str,
        port: int,
        keepalive: int = 30,
        will: tuple[str, bytes, int, bool] | None = None,
    ) -> None:
        """Connect with a clean session (as dials do) and an optional last will
        (topic, payload, qos, retain); returns once the broker has accepted."""
        self._reader, self._writer = await asyncio.open_connection(host, port)
        flags = 0x02  # clean session
        payload = _string(self.client_id)
        if will:
            topic, message, qos, retain = will
            flags |= 0x04 | qos << 3 | (0x20 if retain else 0)
            payload += _string(topic) + _string(message)
        body = _string("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + payload
        self._writer.write(_packet(CONNECT, 0, body))
        first, body = await self._read()
        if first >> 4 != CONNACK or body[1] != 0:
            raise ConnectionError(f"{self.client_id}: broker refused the connection ({body!r})")
        self._tasks = [
            asyncio.create_task(self._receive()),
            asyncio.create_task(self._ping(keepalive)),
        ]

    async def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe and wait for the SUBACK, so nothing published after is missed."""
        packet_id, done = self._expect()
        self._writer.write(
            _packet(SUBSCRIBE, 0x02, struct.pack("!H", packet_id) + _string(topic) + bytes([qos]))
        )
        await done

    def publish(
        self, topic: str, payload: bytes, qos: int = 0, retain: bool = False
    ) -> asyncio.Future | None:
        """Send a message; at QoS 1 returns a future that resolves when the broker's PUBACK
        arrives (the broker has it), at QoS 0 returns None."""
        flags = qos << 1 | (1 if retain else 0)
        if qos == 0:
            self._writer.write(_packet(PUBLISH, flags, _string(topic) + payload))
            return None
        packet_id, done = self._expect()
        self._writer.write(
            _packet(PUBLISH, flags, _string(topic) + struct.pack("!H", packet_id) + payload)
        )
        return done

    async def close(self) -> None:
        """An orderly DISCONNECT: the broker discards the will."""
        for task in self._tasks:
            task.cancel()
        if self._writer:
            if not self._writer.is_closing():
                self._writer.write(_packet(DISCONNECT, 0, b""))
            self._writer.close()

    def _expect(self) -> tuple[int, asyncio.Future]:
        self._next_id = self._next_id % 65535 + 1  # packet ids are 1..65535
        done = asyncio.get_running_loop().create_future()
        self._waiting[self._next_id] = done
        return self._next_id, done

    async def _read(self) -> tuple[int, bytes]:
        first = (await self._reader.readexactly(1))[0]
        length, shift = 0, 0
        while True:
            byte = (await self._reader.readexactly(1))[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return first, await self._reader.readexactly(length)

    async def _receive(self) -> None:
        try:
            while True:
                first, body = await self._read()
                kind = first >> 4
                if kind == PUBLISH:
                    qos = first >> 1 & 0x03
                    (size,) = struct.unpack_from("!H", body)
                    topic, rest = body[2 : 2 + size].decode(), body[2 + size :]
                    if qos:
                        self._writer.write(_packet(PUBACK, 0, rest[:2]))
                        rest = rest[2:]
                    self.on_message(topic, rest)
                elif kind in (PUBACK, SUBACK):
                    (packet_id,) = struct.unpack_from("!H", body)
                    done = self._waiting.pop(packet_id, None)
                    if done and not done.done():
                        done.set_result(None)
        except (asyncio.IncompleteReadError, ConnectionError):
            for done in self._waiting.values():
                if not done.done():
                    done.set_exception(ConnectionError(f"{self.client_id}: connection lost"))
            self._waiting.clear()

    async def _ping(self, keepalive: int) -> None:
        """PINGREQ at 3/4 of the keepalive (the broker drops a client silent for 1.5x)."""
        while True:
            await asyncio.sleep(keepalive * 0.75)
            self._writer.write(_packet(PINGREQ, 0, b""))
