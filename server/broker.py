"""The embedded MQTT broker (amqtt, pure Python): the zero-install default for `run`.

Production and CI use Mosquitto (docs/operations.md); this one exists so a newcomer
sees the whole system run with nothing but Python installed. It keeps its state in
memory only: restart it and retained messages and sessions are gone.
"""

import logging

from amqtt.broker import Broker

log = logging.getLogger(__name__)


class EmbeddedBroker:
    def __init__(self, host: str, port: int):
        self.url = f"mqtt://{host}:{port}"
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._broker = Broker(config)

    async def start(self) -> None:
        await self._broker.start()
        log.info("embedded MQTT broker listening on %s", self.url)

    async def stop(self) -> None:
        await self._broker.shutdown()
