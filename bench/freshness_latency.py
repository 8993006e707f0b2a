"""Freshness latency: a dial's commit published -> the change seen by a map on the event
stream, against raw Mosquitto publish -> subscribe, in one run.

    .venv/bin/python -m bench.freshness_latency [--quick] [--samples 200] [--sites 100]

The path measured is the whole production path (bench/deployment.py): a paho client
publishes a `state` built with firmware.dialcore.protocol, QoS 1 and retained, as a dial does
-> Mosquitto -> `shelter-signal ingest` (its own process) commits it to PostgreSQL -> the
event stream of `shelter-signal serve` (its own process) notices the change -> an httpx
client streaming GET /api/v1/events receives the site with the new count. Settings are the
defaults, as shipped (SIGNAL_LIVE_POLL_SECONDS included).

The baseline is the broker alone: the same paho publisher sends the same payload to a topic
that a paho subscriber in this process receives. Raw and real samples alternate, one each,
so a neighbour loading the machine slows both alike. Samples are spaced 50 to 250 ms apart
at random, so they fall anywhere in the event stream's polling cycle.
"""

import json
import queue
import random
import socket
import threading
import time

import httpx

from bench._common import command_line, load, percentile, print_header, table
from bench.deployment import Deployment
from bench.ingest_throughput import CAPACITY, close, connect, new_client, state_payload, subscribe
from firmware.dialcore import protocol
from tests.support.stack import add_paired_site

RAW_TOPIC = "bench/freshness"
WAIT_S = 10  # a sample whose event has not arrived by then has failed
GOAL_P99_MS = 250


class EventStream:
    """GET /api/v1/events in a thread; every `site` event goes into a queue with the time it
    arrived."""

    def __init__(self, url: str):
        self.url = url
        self.events: queue.Queue = queue.Queue()
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "EventStream":
        self._thread.start()
        if not self.connected.wait(10):
            raise RuntimeError("the event stream did not answer")
        return self

    def stop(self) -> None:
        """Hang up, as a closed browser tab does. (The API waits for open streams to end
        before it stops, so the stream must end first.)"""
        self._socket.shutdown(socket.SHUT_RDWR)  # wakes the reading thread with an EOF
        self._thread.join(10)

    def _run(self) -> None:
        with httpx.stream("GET", f"{self.url}/api/v1/events", timeout=None) as response:
            response.raise_for_status()
            self._socket = response.extensions["network_stream"].get_extra_info("socket")
            self.connected.set()
            event = None
            try:
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line.removeprefix("event: ")
                    elif line.startswith("data: ") and event == "site":
                        site = json.loads(line.removeprefix("data: "))
                        self.events.put((time.monotonic(), site))
            except httpx.HTTPError:
                return  # hung up by stop()

    def wait_for(self, site_id: int, occupied: int) -> float:
        """When the event showing `site_id` at `occupied` arrived (earlier events skipped)."""
        deadline = time.monotonic() + WAIT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                arrived, site = self.events.get(timeout=left)
            except queue.Empty:
                break
            if site["id"] == site_id and site["occupied"] == occupied:
                return arrived
        raise RuntimeError(f"no event for site {site_id} at {occupied} within {WAIT_S} s")


class RawSubscriber:
    """The baseline's receiving end: a paho subscriber to RAW_TOPIC in this process."""

    def __init__(self, url: str):
        self.arrivals: queue.Queue = queue.Queue()
        self.client = new_client("bench-fresh-sub")
        self.client.on_message = lambda *_args: self.arrivals.put(time.monotonic())
        connect(self.client, url)
        subscribe(self.client, RAW_TOPIC)


def measure(samples: int, sites: int) -> dict:
    device_ids = [f"fresh-{n:04d}" for n in range(sites)]
    site_ids: dict[str, int] = {}

    def seed(session) -> None:
        for device_id in device_ids:
            site_ids[device_id] = add_paired_site(session, device_id, CAPACITY, device_id)

    rng = random.Random(7)
    raw, real = [], []
    with Deployment(seed) as deployment:
        stream = EventStream(deployment.api_url).start()
        subscriber = RawSubscriber(deployment.broker.url)
        dial = new_client("bench-fresh-dial")  # one paho client publishing for every dial
        connect(dial, deployment.broker.url)
        seqs = dict.fromkeys(device_ids, 0)
        try:
            for number in range(samples):
                device_id = device_ids[number % sites]
                seqs[device_id] += 1
                count = seqs[device_id] % (CAPACITY + 1)  # what state_payload sends
                payload = state_payload(1, seqs[device_id])
                time.sleep(rng.uniform(0.05, 0.25))
                sent = time.monotonic()
                dial.publish(RAW_TOPIC, payload, qos=1)
                raw.append(subscriber.arrivals.get(timeout=WAIT_S) - sent)

                time.sleep(rng.uniform(0.05, 0.25))
                sent = time.monotonic()
                dial.publish(protocol.topic(device_id, "state"), payload, qos=1, retain=True)
                real.append(stream.wait_for(site_ids[device_id], count) - sent)
        finally:
            stream.stop()
            for client in (dial, subscriber.client):
                close(client)
    return {"raw": raw, "real": real}


def main() -> None:
    parser = command_line(__package__, __doc__, "smoke run: 10 samples, 10 sites")
    parser.add_argument("--samples", type=int, default=200, help="commits measured (and raw)")
    parser.add_argument("--sites", type=int, default=100, help="paired dials, one per site")
    args = parser.parse_args()
    if args.quick:
        args.samples, args.sites = 10, 10

    print_header(args.quick)
    print(
        f"{args.samples} commits over {args.sites} dials (one site each), PostgreSQL, "
        "ingestor and API in processes of their own, default settings\n"
    )
    result = measure(args.samples, args.sites)
    print(f"Load average after: {load()}\n")
    rows = []
    for name, values in (
        ("raw: paho publish -> Mosquitto -> paho subscriber", result["raw"]),
        ("real: dial commit -> ingest -> PostgreSQL -> SSE client", result["real"]),
    ):
        rows.append([name, *(f"{percentile(values, p) * 1000:.1f}" for p in (50, 90, 99, 100))])
    print(table(["path", "ms p50", "p90", "p99", "max"], rows))
    real_p99 = percentile(result["real"], 99) * 1000
    print("\nRatios real/raw (same run):")
    for p in (50, 99):
        ratio = percentile(result["real"], p) / percentile(result["raw"], p)
        print(f"  p{p} latency = {ratio:.0f}x")
    verdict = "met" if real_p99 < GOAL_P99_MS else "NOT met"
    print(f"\nGoal: p99 under {GOAL_P99_MS} ms: {real_p99:.0f} ms, {verdict}")


if __name__ == "__main__":
    main()
