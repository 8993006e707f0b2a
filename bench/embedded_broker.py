"""Embedded broker: iotcore (rumqttd, what `make run` starts) against amqtt 0.12 (what it
started until issue 15), with Mosquitto beside them as the reference. The same checks for
each (tests/support/broker_checks.py): a dial's client id taken over with messages in
flight, retained messages sent to a newcomer that did not subscribe to them, the
ingestor's kept session, QoS 1 throughput, and the time to start and to stop.

    .venv/bin/python -m bench.embedded_broker [--quick] [--messages N] [--rounds R]
"""

import asyncio
import statistics
import threading
import time
from importlib.metadata import version

from bench._common import command_line, load, print_header, table
from server.broker import EmbeddedBroker
from tests.support import broker_checks
from tests.support.services import LOOPBACK, Mosquitto, free_port


class Amqtt:
    """amqtt as server/broker.py ran it until issue 15: anonymous clients, its table of
    subscriptions walked over a copy (else a client connecting while another subscribes
    ends with "dictionary changed size during iteration"), on an asyncio loop of its own."""

    def __init__(self) -> None:
        from amqtt.broker import Broker  # only here: `make run` no longer needs it

        class Subscriptions(dict):
            def __iter__(self):
                return iter(list(super().__iter__()))

            def items(self):
                return list(super().items())

        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        plugin = "amqtt.plugins.authentication.AnonymousAuthPlugin"
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{LOOPBACK}:{self.port}"}},
            "plugins": {plugin: {"allow_anonymous": True}},
        }
        self._broker = self._call(_build(Broker, config))
        self._broker._subscriptions = Subscriptions()

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def start(self) -> None:
        self._call(self._broker.start())

    def stop(self) -> None:
        self._call(self._broker.shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)


async def _build(broker_class, config):
    return broker_class(config)  # amqtt takes the running loop when it is built


class Iotcore:
    def __init__(self) -> None:
        self.port = free_port()
        self._broker = EmbeddedBroker(LOOPBACK, self.port)

    def start(self) -> None:
        asyncio.run(self._broker.start())

    def stop(self) -> None:
        asyncio.run(self._broker.stop())


class Reference:
    """Mosquitto, as the tests and production run it (a process of its own)."""

    def __init__(self) -> None:
        self._broker = Mosquitto()
        self.port = self._broker.port

    def start(self) -> None:
        self._broker.start()

    def stop(self) -> None:
        self._broker.close()


BROKERS = {"amqtt 0.12": Amqtt, "iotcore (rumqttd)": Iotcore, "Mosquitto": Reference}


def measure(make, messages: int, rounds: int) -> dict:
    broker = make()
    started = time.perf_counter()
    broker.start()
    start_s = time.perf_counter() - started
    try:
        acked, lost = broker_checks.client_id_reuse(LOOPBACK, broker.port, rounds)
        leaked = broker_checks.retained_leak(LOOPBACK, broker.port)
        kept = broker_checks.session_kept(LOOPBACK, broker.port)
        rates = [broker_checks.throughput(LOOPBACK, broker.port, messages) for _ in range(3)]
        connected = broker_checks.Client(LOOPBACK, broker.port)  # a stop with a client on
    finally:
        started = time.perf_counter()
        broker.stop()
        stop_s = time.perf_counter() - started
    connected.close()
    return {
        "reuse": f"{lost} of {acked}",
        "leak": str(len(leaked)),
        "kept": "{} and {} of 10".format(*kept),
        "rate": statistics.median(rates),
        "start": start_s,
        "stop": stop_s,
    }


def main() -> None:
    parser = command_line(__package__, __doc__, "smoke run: 500 messages, 2 takeovers")
    parser.add_argument("--messages", type=int, default=20_000, help="QoS 1 messages per rate")
    parser.add_argument("--rounds", type=int, default=10, help="client-id takeovers")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.rounds = 500, 2
        broker_checks.PATIENCE_S = 0.25  # amqtt's losses cost this each: a smoke run's numbers

    print_header(args.quick)
    print(f"Brokers: iotcore {version('iotcore')} (rumqttd 0.20), amqtt {version('amqtt')}")
    print(f"{args.rounds} takeovers of 20 messages each; {args.messages} messages per rate\n")
    results = {name: measure(make, args.messages, args.rounds) for name, make in BROKERS.items()}
    print(f"Load average after: {load()}\n")
    rows = [
        [
            name,
            r["reuse"],
            r["leak"],
            r["kept"],
            f"{r['rate']:.0f}",
            f"{r['start'] * 1000:.0f}",
            f"{r['stop'] * 1000:.0f}",
        ]
        for name, r in results.items()
    ]
    headers = ["broker", "lost of acked", "leaked", "kept, redelivered", "msg/s", "start ms"]
    print(table([*headers, "stop ms"], rows))
    old, new, ref = (results[name] for name in BROKERS)  # in BROKERS' order
    print("\nRatios (same run):")
    print(f"  throughput iotcore/amqtt = {new['rate'] / old['rate']:.1f}x")
    print(f"  throughput iotcore/Mosquitto = {new['rate'] / ref['rate']:.2f}x")
    print(f"  start iotcore/amqtt = {new['start'] / old['start']:.1f}x")
    print(f"  stop iotcore/amqtt = {new['stop'] / old['stop']:.1f}x")


if __name__ == "__main__":
    main()
