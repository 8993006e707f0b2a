"""The embedded MQTT broker (amqtt, pure Python): the zero-install default for `run`.

Production and CI use Mosquitto (docs/operations.md); this one exists so a newcomer
sees the whole system run with nothing but Python installed. It keeps its state in
memory only: restart it and retained messages and sessions are gone.
"""

import logging

from amqtt.broker import Broker

log = logging.getLogger(__name__)


class _Subscriptions(dict):
    """amqtt's table of subscriptions (topic filter -> sessions), walked over a copy.

    amqtt 0.12 walks this table with awaits inside the loop: a connecting client is sent
    the retained messages of every filter, one `await` each. A client that subscribes to
    a new filter meanwhile ends that walk with "RuntimeError: dictionary changed size
    during iteration", and the connecting client is left connected with nobody reading
    its messages. Dials connecting together (the demo's first start, a loaded machine)
    make it likely. A copy per walk is cheap: one entry per topic filter.
    """

    def __iter__(self):
        return iter(list(super().__iter__()))

    def items(self):
        return list(super().items())


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
        self._broker._subscriptions = _Subscriptions()

    async def start(self) -> None:
        await self._broker.start()
        log.info("embedded MQTT broker listening on %s", self.url)

    async def stop(self) -> None:
        await self._broker.shutdown()
