"""Fleet scale: thousands of dials connected at once, each sending telemetry every minute and
committing counts now and then; the ingest lag under that load, against the broker's own
round trip under the same load, in one run.

    .venv/bin/python -m bench.fleet_scale [--quick] [--devices 5000] [--seconds 120]

The system runs as in production (bench/deployment.py: Mosquitto, PostgreSQL, and the
ingestor and the API in processes of their own). The devices are bench/light_mqtt.py clients
on asyncio, split over --processes load-generator processes, and behave as the firmware does
(docs/protocol.md): clean session, 30 s keepalive, `lost` as the last will; on connect they
subscribe to their `ack` and `config` topics and publish `status` `online` (retained, QoS 1);
then `telemetry` every 60 s (QoS 0, first one at a random moment of the minute) and a `state`
(retained, QoS 1) at random moments, on average every --commit-every seconds per dial (the
time between two commits is exponential, as for independent arrivals). Payloads come from
firmware.dialcore.protocol, byte for byte what a dial sends.

Connecting is spread over --ramp seconds. Then, for --seconds:

- ingest lag: publish of a `state` -> its `ack` (the ingestor publishes it after the
  database commit), for every state;
- baseline: in each load process, one probe client publishes a QoS 1 message to a topic it
  subscribes to, every 0.5 s: the broker's own round trip under the same load.

At the end every state must have its `saved` ack, and the database must count every device
online and hold every reading.
"""

import asyncio
import random
import time
import uuid

from sqlalchemy import func
from sqlmodel import Session, select

from bench._common import (
    command_line,
    cpu_seconds,
    load,
    percentile,
    print_header,
    spawn_context,
    table,
)
from bench.deployment import Deployment, raise_open_files
from bench.ingest_throughput import CAPACITY, child_main
from bench.light_mqtt import LightClient
from firmware.dialcore import protocol
from server.models import Device, Reading
from tests.support.stack import add_paired_site

KEEPALIVE_S = 30  # as the firmware (docs/protocol.md)
TELEMETRY_S = 60  # as the firmware
PROBE_EVERY_S = 0.5
FIRMWARE = "bench-1.0"
DRAIN_S = 30  # after the run, how long the last states may take to be acked


class Dial:
    """One simulated device; `latencies` holds publish -> ack of its states."""

    def __init__(self, device_id: str, rng: random.Random):
        self.device_id, self.rng = device_id, rng
        self.boot, self.seq, self.count = 1, 0, rng.randint(0, CAPACITY)
        self.sent: dict[int, float] = {}
        self.latencies: list[float] = []
        self.rejected = 0
        self.client = LightClient(f"{device_id}-{uuid.uuid4().hex[:6]}", self._on_message)
        self.started = time.monotonic()

    def topic(self, suffix: str) -> str:
        return protocol.topic(self.device_id, suffix)

    async def connect(self, host: str, port: int) -> None:
        will = protocol.encode_status("lost", self.boot, FIRMWARE, 1)
        await self.client.connect(host, port, KEEPALIVE_S, (self.topic("status"), will, 1, True))
        await self.client.subscribe(self.topic("ack"))
        await self.client.subscribe(self.topic("config"))
        online = protocol.encode_status("online", self.boot, FIRMWARE, 1)
        self.client.publish(self.topic("status"), online, qos=1, retain=True)

    async def run(self, until: float, commit_every: float) -> None:
        telemetry = asyncio.create_task(self._telemetry())
        while (wait := self.rng.expovariate(1 / commit_every)) < until - time.monotonic():
            await asyncio.sleep(wait)
            self.count = max(0, min(CAPACITY, self.count + self.rng.choice((-2, -1, 1, 2))))
            self.seq += 1
            state = protocol.encode_state(
                self.boot, self.seq, "occupied", 1, [(self.count, CAPACITY)], ts=int(time.time())
            )
            self.sent[self.seq] = time.monotonic()
            self.client.publish(self.topic("state"), state, qos=1, retain=True)
        await asyncio.sleep(max(0.0, until - time.monotonic()))
        telemetry.cancel()

    async def _telemetry(self) -> None:
        await asyncio.sleep(self.rng.uniform(0, TELEMETRY_S))
        while True:
            uptime = int(time.monotonic() - self.started)
            message = protocol.encode_telemetry(uptime, FIRMWARE, len(self.sent), self.seq, -60)
            self.client.publish(self.topic("telemetry"), message)
            await asyncio.sleep(TELEMETRY_S)

    def _on_message(self, topic: str, payload: bytes) -> None:
        if protocol.parse_topic(topic)[1] != "ack":
            return  # the retained config: a dial would apply it; the counts stay valid
        ack = protocol.decode_ack(payload)
        sent = self.sent.pop(ack["seq"], None) if ack["boot"] == self.boot else None
        if sent is not None:
            self.latencies.append(time.monotonic() - sent)
            self.rejected += ack["result"] != "saved"


async def probe(host: str, port: int, until: float) -> list[float]:
    """The broker's own QoS 1 round trip under the same load."""
    arrivals: asyncio.Queue = asyncio.Queue()
    topic = f"bench/probe/{uuid.uuid4().hex[:8]}"
    client = LightClient(f"probe-{uuid.uuid4().hex[:6]}", lambda *_: arrivals.put_nowait(None))
    await client.connect(host, port)
    await client.subscribe(topic)
    round_trips = []
    while time.monotonic() < until:
        sent = time.monotonic()
        client.publish(topic, b"probe", qos=1)
        await arrivals.get()
        round_trips.append(time.monotonic() - sent)
        await asyncio.sleep(PROBE_EVERY_S)
    await client.close()
    return round_trips


async def load_process(host, port, device_ids, seed, ramp, seconds, commit_every) -> dict:
    raise_open_files()
    rng = random.Random(seed)
    dials = [Dial(device_id, random.Random(rng.random())) for device_id in device_ids]
    begin = time.monotonic()
    connecting = []
    for number, dial in enumerate(dials):  # spread over the ramp, not all at one instant
        await asyncio.sleep(max(0.0, begin + ramp * number / len(dials) - time.monotonic()))
        connecting.append(asyncio.create_task(dial.connect(host, port)))
    await asyncio.gather(*connecting)
    await asyncio.sleep(max(0.0, begin + ramp - time.monotonic()))
    start = time.monotonic()
    until = start + seconds
    probing = asyncio.create_task(probe(host, port, until))
    await asyncio.gather(*(dial.run(until, commit_every) for dial in dials))
    drain = time.monotonic() + DRAIN_S
    while any(dial.sent for dial in dials) and time.monotonic() < drain:
        await asyncio.sleep(0.1)
    result = {
        "start": start,
        "latencies": [x for dial in dials for x in dial.latencies],
        "unacked": sum(len(dial.sent) for dial in dials),
        "rejected": sum(dial.rejected for dial in dials),
        "states": sum(dial.seq for dial in dials),
        "probe": await probing,
    }
    for dial in dials:
        await dial.client.close()
    return result


def run_load(*args) -> dict:
    """One load process's dials (in a spawned process: see child_main)."""
    return asyncio.run(load_process(*args))


def run(args) -> dict:
    device_ids = [f"fleet-{n:05d}" for n in range(args.devices)]

    def seed(session) -> None:
        for device_id in device_ids:
            add_paired_site(session, device_id, CAPACITY, device_id)

    with Deployment(seed) as deployment:
        context = spawn_context()
        results = context.Queue()
        children = [
            context.Process(
                target=child_main,
                args=(
                    run_load,
                    (
                        deployment.broker.host,
                        deployment.broker.port,
                        device_ids[n :: args.processes],
                        n,
                        args.ramp,
                        args.seconds,
                        args.commit_every,
                    ),
                    results,
                ),
                daemon=True,
            )
            for n in range(args.processes)
        ]
        for process in children:
            process.start()
        online = _wait_online(deployment, args.devices, time.monotonic() + args.ramp + 60)
        pids = {**deployment.pids(), "mosquitto": deployment.broker._process.pid}
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        parts = [results.get(timeout=args.ramp + args.seconds + DRAIN_S + 120) for _ in children]
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        for process in children:
            process.join(10)
        errors = [p["error"] for p in parts if "error" in p]
        if errors:
            raise RuntimeError(f"a load process failed:\n{errors[0]}")
        with Session(deployment.engine) as session:
            readings = session.exec(select(func.count(Reading.id))).one()
    return {
        "online_after": online,
        "latencies": [x for p in parts for x in p["latencies"]],
        "probe": [x for p in parts for x in p["probe"]],
        "states": sum(p["states"] for p in parts),
        "unacked": sum(p["unacked"] for p in parts),
        "rejected": sum(p["rejected"] for p in parts),
        "readings": readings,
        "cpu": {name: seconds / args.seconds for name, seconds in cpu.items()},
    }


def _wait_online(deployment: Deployment, devices: int, deadline: float) -> float:
    """Seconds from now until the database shows every device online (their births)."""
    start = time.monotonic()
    online = select(func.count(Device.id)).where(Device.status == "online")
    while time.monotonic() < deadline:
        with Session(deployment.engine) as session:
            if session.exec(online).one() >= devices:
                return time.monotonic() - start
        time.sleep(0.2)
    raise RuntimeError(f"not every device was online by the deadline:\n{deployment.logs()}")


def main() -> None:
    parser = command_line(__package__, __doc__, "smoke run: 100 devices for 5 s")
    parser.add_argument("--devices", type=int, default=5000, help="simulated dials")
    parser.add_argument("--seconds", type=float, default=120.0, help="measured time")
    parser.add_argument("--ramp", type=float, default=20.0, help="seconds to connect them all")
    parser.add_argument(
        "--commit-every", type=float, default=120.0, help="mean seconds between a dial's commits"
    )
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    args = parser.parse_args()
    if args.quick:
        args.devices, args.seconds, args.ramp, args.commit_every = 100, 5.0, 1.0, 5.0

    limit = raise_open_files()
    print_header(args.quick)
    print(
        f"{args.devices} devices over {args.processes} load processes, connected over "
        f"{args.ramp:g} s, then {args.seconds:g} s measured: telemetry every {TELEMETRY_S} s, "
        f"a commit every {args.commit_every:g} s per dial on average "
        f"(~{args.devices / args.commit_every:.0f} states/s); open files limit {limit}\n"
    )
    result = run(args)
    print(f"Load average after: {load()}\n")
    if result["unacked"] or result["rejected"]:
        raise SystemExit(
            f"FAIL: {result['unacked']} states without an ack, {result['rejected']} rejected"
        )
    if result["readings"] != result["states"]:
        raise SystemExit(f"FAIL: {result['readings']} readings for {result['states']} states")
    lag, probe_rt = result["latencies"], result["probe"]
    rows = [
        [name, str(len(values)), *(f"{percentile(values, p) * 1000:.1f}" for p in (50, 99, 100))]
        for name, values in (
            ("broker round trip (probe)", probe_rt),
            ("ingest lag: state -> committed -> ack", lag),
        )
    ]
    print(table(["measure", "samples", "ms p50", "p99", "max"], rows))
    cpu = ", ".join(f"{name} {share:.0%}" for name, share in result["cpu"].items())
    print(f"\nAll {result['states']} states acked and stored. Every device showed online in the")
    print(f"database {result['online_after']:.1f} s after the load processes started connecting.")
    print(f"CPU (share of one core) while measured: {cpu}")
    p99 = percentile(lag, 99)
    print("\nRatios ingest/broker (same run):")
    print(f"  p50 = {percentile(lag, 50) / percentile(probe_rt, 50):.1f}x")
    print(f"  p99 = {p99 / percentile(probe_rt, 99):.1f}x")
    print(
        f"\nGoal: ingest lag p99 under 1 s: {p99 * 1000:.0f} ms, {'met' if p99 < 1 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
