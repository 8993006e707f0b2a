"""The embedded MQTT broker: the zero-install default for `run`.

Production and CI use Mosquitto (docs/operations.md); this one exists so a newcomer sees the
whole system run with nothing but `pip install`. It is rumqttd (Rust), compiled into the
iotcore wheel, running in a child process: the broker's work stays off our event loop, and
the child exits by itself if we die (iotcore watches the pipe to its stdin). It keeps its
state in memory only: restart it and retained messages and sessions are gone.

It replaced amqtt 0.12.1, which lost QoS 1 messages it had acknowledged, sent every new
client the retained messages of everyone's subscriptions and dropped the ingestor's
session at each reconnect (tests/server/test_broker.py; docs/benchmarks.md compares both).
"""

import asyncio
import logging

from iotcore import Broker

log = logging.getLogger(__name__)

# The largest MQTT payload the broker passes on; a larger one ends its sender's connection.
# As Mosquitto's max_packet_size in deploy/mosquitto/shelter-signal.conf (the sum is there):
# the largest legitimate message and 60 % more, so the ingestor still sees, and
# dead-letters, what is over SIGNAL_MAX_PAYLOAD_BYTES (4 KiB by default) but under this.
MAX_PAYLOAD_BYTES = 16384
START_TIMEOUT_S = 10  # the child listens in ~0.1 s; a loaded 2-core machine can take seconds


class EmbeddedBroker:
    def __init__(self, host: str, port: int):
        self.url = f"mqtt://{host}:{port}"
        self._broker = Broker(
            port=port,
            listen=host,
            max_payload_size=MAX_PAYLOAD_BYTES,
        )

    async def start(self) -> None:
        """Return once the broker accepts connections; OSError if the port is taken."""
        await asyncio.to_thread(self._broker.start, START_TIMEOUT_S)
        log.info("embedded MQTT broker listening on %s", self.url)

    async def stop(self) -> None:
        await asyncio.to_thread(self._broker.stop)
