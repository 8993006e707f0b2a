"""Durable ingest throughput: readings committed and acknowledged per second, against raw
Mosquitto QoS 1 throughput on the same machine, in one run.

    .venv/bin/python -m bench.ingest_throughput [--quick] [--dials 200]
        [--databases sqlite postgresql] [--ingestors 1 2] [--echo paho [gmqtt]]

What runs where. The machine has 2 cores and Python has a GIL, so the load generator (the
simulated dials, on one asyncio loop over bench/light_mqtt.py) runs in a spawned child
process, the echo responder in this process, and each ingestor in a spawned process of its
own, as `shelter-signal ingest` runs. Every phase gets a fresh Mosquitto
(tests/support/services.Mosquitto), so no retained message or queued session leaks from one
phase into the next.

Phases:

1. raw:    mosquitto_pub --repeat N publishes a state at QoS 1 N times, as fast as it can;
           mosquitto_sub, subscribed at QoS 1, receives them (Debian's mosquitto-clients: C,
           libmosquitto, 20 messages in flight). Messages/s from the start of mosquitto_pub
           to the exit of mosquitto_sub after the Nth message: the baseline for throughput.

2. echo:   M simulated dials, each keeping at most W states unacknowledged (the firmware keeps
           1), against a responder that acks each state without touching a database. Same
           MQTT round trip as the ingestor (dial -> broker -> server -> broker -> dial), and
           it subscribes to signal/# like the ingestor, so it also sees its own acks.
3. ingest: the same dials against the real Ingestor (server/ingest/client.py) on SQLite as
           shipped (WAL, synchronous=FULL) and on PostgreSQL (synchronous commits); once for
           each count of --ingestors (more than one share an MQTT 5 shared subscription, as
           deploy/systemd's units do). Messages/s until every ack is back: each is sent
           after its reading's commit (the reading table is counted afterwards to prove it).

With many dials (200 by default) the ingestor always has a batch waiting: the figure is its
throughput, not the round-trip time of a few dials. Phases 2 and 3 then run one dial with one
state in flight: the unloaded publish -> ack latency, whose echo figure is the baseline for
latency. For each loaded run it prints the CPU time each part used per 1,000 states (the
server: echo or ingestors; PostgreSQL; Mosquitto; the dials), and the ingestors' batches.

Mosquitto runs with what deploy/mosquitto/shelter-signal.conf sets for speed
(bench/_common.BROKER_CONFIG): set_tcp_nodelay and a deep queue. --nagle leaves out
set_tcp_nodelay, to show the ~40 ms stalls Nagle's algorithm then adds to acks. The Ingestor
and the echo responder set TCP_NODELAY on their own sockets; asyncio does on the dials'.
"""

import asyncio
import contextlib
import functools
import os
import socket
import subprocess
import tempfile
import threading
import time
import traceback
import uuid

import paho.mqtt.client as mqtt
from sqlalchemy import text
from sqlmodel import Session

from bench._common import (
    BROKER_CONFIG,
    NAGLE_CONFIG,
    command_line,
    cpu_seconds,
    load,
    ms_percentiles,
    percentile,
    print_header,
    spawn_context,
    table,
)
from bench.light_mqtt import LightClient
from firmware.dialcore import protocol
from server import metrics, mqtt_url
from server.db import make_engine, migrate
from server.ingest.client import Ingestor
from server.settings import Settings
from tests.support.services import Mosquitto, Postgres
from tests.support.stack import add_paired_site

CAPACITY = 40  # beds per simulated program; counts cycle through 0..CAPACITY
RAW_TOPIC = "bench/raw"
READY_TOPIC = "bench/ready"
TIMEOUT_S = 60  # a phase that takes longer than this has failed


# --------------------------------------------------------------------------- MQTT helpers


def start_broker(nagle: bool) -> Mosquitto:
    """A fresh Mosquitto from the test harness, configured as deploy/ runs it for speed."""
    return Mosquitto(NAGLE_CONFIG if nagle else BROKER_CONFIG).start()


def new_client(prefix: str) -> mqtt.Client:
    """A paho client with TCP_NODELAY on its socket, as the Ingestor sets on its own."""
    client_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.on_socket_open = lambda _client, _userdata, sock: sock.setsockopt(
        socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
    )
    return client


def connect(client: mqtt.Client, url: str) -> None:
    """Connect, start paho's network thread and wait for the CONNACK."""
    host, port = mqtt_url.parse(url)
    ready = threading.Event()
    client.on_connect = lambda *_args: ready.set()
    client.connect(host, port, keepalive=60)
    client.loop_start()
    if not ready.wait(10):
        raise RuntimeError(f"no CONNACK from {url}")


def subscribe(client: mqtt.Client, topic: str) -> None:
    """Subscribe with QoS 1 and wait for the SUBACK, so nothing published after is missed."""
    done = threading.Event()
    client.on_subscribe = lambda *_args: done.set()
    client.subscribe(topic, qos=1)
    if not done.wait(10):
        raise RuntimeError(f"no SUBACK for {topic}")


def close(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def state_payload(boot: int, seq: int) -> bytes:
    """A valid one-channel `state`, as a dial sends it."""
    count = seq % (CAPACITY + 1)
    return protocol.encode_state(boot, seq, "occupied", 1, [(count, CAPACITY)], ts=int(time.time()))


# --------------------------------------------------------------------------- load generators
# These run in the child process. Times are time.monotonic(), which on Linux is one clock
# for every process, so the parent can compare them with its own.


def child_main(target, args, results) -> None:
    """Run a load generator and send back its result (or the traceback it died with)."""
    try:
        results.put(target(*args))
    except BaseException:
        results.put({"error": traceback.format_exc()})


class SimDial:
    """A dial reduced to its protocol: states with increasing seq, at most `window` unacked.

    Runs on the load generator's event loop over bench/light_mqtt.py: one process carries
    hundreds of dials, where paho-mqtt would need a thread for each.
    """

    def __init__(self, device_id: str, boot: int, total: int):
        self.device_id, self.boot, self.total = device_id, boot, total
        self.next_seq = 1
        self.sent: dict[int, float] = {}  # seq -> when it was published
        self.latencies: list[float] = []  # publish -> ack, seconds
        self.rejected = 0
        self.done = asyncio.Event()
        self.client = LightClient(f"bench-{device_id}-{uuid.uuid4().hex[:6]}", self._on_ack)

    async def start(self, url: str) -> None:
        await self.client.connect(*mqtt_url.parse(url))
        await self.client.subscribe(protocol.topic(self.device_id, "ack"))

    def send(self) -> None:
        if self.next_seq > self.total:
            return
        seq, self.next_seq = self.next_seq, self.next_seq + 1
        self.sent[seq] = time.monotonic()
        # retain=True and QoS 1: exactly how the firmware publishes a state
        topic = protocol.topic(self.device_id, "state")
        self.client.publish(topic, state_payload(self.boot, seq), qos=1, retain=True)

    def _on_ack(self, _topic: str, payload: bytes) -> None:
        now = time.monotonic()
        ack = protocol.decode_ack(payload)
        sent = self.sent.pop(ack["seq"], None) if ack["boot"] == self.boot else None
        if sent is None:
            return  # a repeated ack (the broker redelivered a state): already counted
        self.latencies.append(now - sent)
        self.rejected += ack["result"] != "saved"
        if len(self.latencies) == self.total:
            self.done.set()
        else:
            self.send()  # the next state goes out as soon as one is confirmed


async def _fleet(url: str, device_ids: list[str], per_dial: int, window: int, boot: int) -> dict:
    dials = [SimDial(device_id, boot, per_dial) for device_id in device_ids]
    await asyncio.gather(*(dial.start(url) for dial in dials))
    start = time.monotonic()  # every dial is connected and subscribed: go
    cpu = time.process_time()
    for dial in dials:
        for _ in range(window):
            dial.send()
    remaining = [asyncio.create_task(dial.done.wait()) for dial in dials]
    await asyncio.wait(remaining, timeout=TIMEOUT_S)
    end, cpu = time.monotonic(), time.process_time() - cpu
    for dial in dials:
        await dial.client.close()
    latencies = [x for dial in dials for x in dial.latencies]
    return {
        "start": start,
        "end": end,
        "latencies": latencies,
        "acked": len(latencies),
        "rejected": sum(dial.rejected for dial in dials),
        "cpu": cpu,
    }


def fleet(url: str, device_ids: list[str], per_dial: int, window: int, boot: int) -> dict:
    """Phases 2 and 3: every dial sends `per_dial` states; returns timings and latencies."""
    return asyncio.run(_fleet(url, device_ids, per_dial, window, boot))


def run_child(target, *args) -> dict:
    """Run a load generator in a fresh interpreter and return its result."""
    context = spawn_context()
    results = context.Queue()
    child = context.Process(target=child_main, args=(target, args, results), daemon=True)
    child.start()
    try:
        result = results.get(timeout=TIMEOUT_S + 30)
    finally:
        child.join(10)
        if child.is_alive():
            child.terminate()
    if "error" in result:
        raise RuntimeError(f"load generator failed:\n{result['error']}")
    return result


# --------------------------------------------------------------------------- receivers
# What is measured: the echo runs in this process, each ingestor in a process of its own.


def raw_phase(count: int, nagle: bool) -> dict:
    """Phase 1: mosquitto_pub -> Mosquitto -> mosquitto_sub, both at QoS 1 (Debian's
    mosquitto-clients, C, libmosquitto: 20 messages in flight, like paho)."""
    with start_broker(nagle) as broker:  # its queue cap keeps the baseline lossless
        where = ["-h", broker.host, "-p", str(broker.port), "-q", "1"]
        # A retained message on a second topic tells us when mosquitto_sub is subscribed:
        # both topics go in one SUBSCRIBE, so once "ready" arrives, so will the rest.
        subprocess.run(
            ["mosquitto_pub", *where, "-t", READY_TOPIC, "-r", "-m", "ready"], check=True
        )
        sub = subprocess.Popen(
            ["mosquitto_sub", *where, "-t", READY_TOPIC, "-t", RAW_TOPIC, "-C", str(count + 1)],
            stdout=subprocess.PIPE,
        )
        if sub.stdout.readline() != b"ready\n":
            raise RuntimeError("mosquitto_sub did not subscribe")
        # Read what it prints as it comes: a subscriber blocked on a full pipe would stop
        # taking messages, and Mosquitto would end up queueing them (or worse).
        received, ended = [0], [0.0]

        def drain() -> None:
            for _line in sub.stdout:  # until it has -C messages and exits
                received[0] += 1
            ended[0] = time.monotonic()

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        # --repeat, not -l: mosquitto_pub 2.0.11 -l hangs up at the end of its input before
        # all of it is sent (a third of 100,000 lines arrived in our first run).
        payload = state_payload(1, 1).decode()
        start = time.monotonic()
        pub = subprocess.run(
            ["mosquitto_pub", *where, "-t", RAW_TOPIC, "-m", payload, "--repeat", str(count)],
            timeout=TIMEOUT_S,
        )
        reader.join(TIMEOUT_S)
        sub.kill()  # only still running if messages went missing
        sub.wait()
    if pub.returncode or received[0] != count:
        raise RuntimeError(f"raw phase: {received[0]} of {count} messages arrived")
    return {"messages": count, "seconds": ended[0] - start}


def start_echo(url: str) -> mqtt.Client:
    """A server that acks every state at once: the ingestor's MQTT path without a database."""
    client = new_client("bench-echo")

    def on_message(client, _userdata, message) -> None:
        device_id, suffix = protocol.parse_topic(message.topic)
        if suffix != "state":
            return  # our own acks come back too: signal/# covers them, as for the ingestor
        state = protocol.decode(message.payload)
        ack = protocol.encode_ack(state["boot"], state["seq"], "saved")
        client.publish(protocol.topic(device_id, "ack"), ack, qos=1)

    client.on_message = on_message
    connect(client, url)
    subscribe(client, "signal/#")
    return client


GMQTT_MISSING = """--echo gmqtt needs gmqtt, which is not a dependency: its 0.8.0 wheel also
installs top-level `tests` and `examples` packages that hide this project's tests. Install it
beside the venv:
    .venv/bin/pip install --no-deps --target /tmp/gmqtt gmqtt
    mkdir -p /tmp/gmqtt-only && ln -sfn /tmp/gmqtt/gmqtt /tmp/gmqtt-only/gmqtt
and run with PYTHONPATH=/tmp/gmqtt-only."""


class GmqttEcho:
    """The same responder on gmqtt (asyncio, its own loop in a thread of this process)."""

    def __init__(self, url: str):
        try:
            import gmqtt  # optional: see GMQTT_MISSING
        except ImportError:
            raise SystemExit(GMQTT_MISSING) from None
        self._gmqtt = gmqtt
        self._ready, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(url),), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the gmqtt echo did not subscribe")

    async def _serve(self, url: str) -> None:
        # Not optimistic: the PUBACK goes when on_message returns, as the ingestor's manual
        # acks (gmqtt sends none for a plain function, so it is a coroutine)
        client_id = f"bench-echo-{uuid.uuid4().hex[:8]}"
        client = self._gmqtt.Client(client_id, optimistic_acknowledgement=False)

        async def on_message(client, topic, payload, _qos, _properties) -> int:
            device_id, suffix = protocol.parse_topic(topic)
            if suffix == "state":  # our own acks come back too, as in start_echo
                state = protocol.decode(payload)
                ack = protocol.encode_ack(state["boot"], state["seq"], "saved")
                client.publish(protocol.topic(device_id, "ack"), ack, qos=1)
            return 0  # PUBACK reason code: success

        client.on_message = on_message
        client.on_subscribe = lambda *_args: self._ready.set()
        await client.connect(*mqtt_url.parse(url), version=self._gmqtt.constants.MQTTv311)
        client.subscribe("signal/#", qos=1)
        while not self._stop.is_set():
            await asyncio.sleep(0.05)
        await client.disconnect()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)


def seed_dials(engine, count: int) -> list[str]:
    """One site, one program and one paired dial per device, as the system tests seed them."""
    device_ids = [f"bench-{n:03d}" for n in range(count)]
    with Session(engine) as session:
        for device_id in device_ids:
            add_paired_site(session, device_id, CAPACITY, f"Bench House {device_id}")
        session.commit()
    return device_ids


def wait_for_rows(engine, target: int) -> None:
    """Check that the reading table holds `target` rows. Every ack is sent after its commit,
    so once every ack is back they are all there; the check only proves it (polling while
    measuring would cost the database and this process's CPU)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(text("SELECT count(*) FROM reading")).scalar_one() >= target:
                return
        time.sleep(0.05)
    raise RuntimeError(f"fewer than {target} readings committed, though every state was acked")


def ingestor_main(
    database_url: str, broker_url: str, group: str | None, ready, snapshot, stop
) -> None:
    """Child process: the real Ingestor, built as server/runner.py builds it for
    `shelter-signal ingest`, until `stop` is set; at `snapshot`, its batch figures."""
    try:
        settings = Settings(_env_file=None)
        engine = make_engine(database_url)
        ingestor = Ingestor(
            engine,
            broker_url,
            f"bench-ingest-{uuid.uuid4().hex[:8]}",
            settings.max_payload_bytes,
            batch_size=settings.ingest_batch_size,
            shared_group=group,
        )
        ingestor.start()
        if not ingestor.connected.wait(10):
            raise RuntimeError("ingestor did not connect")
        ready.put(None)
    except BaseException:
        ready.put(traceback.format_exc())
        raise
    snapshot.wait()  # the loaded run is over: how it batched
    ready.put(_batches())
    stop.wait()
    ingestor.stop()
    engine.dispose()


def _batches() -> tuple[float, float, float]:
    """(batches, messages, seconds handling them) from the ingestor's own metrics."""
    samples = {s.name: s.value for m in metrics.INGEST.collect() for s in m.samples}
    return (
        samples["signal_ingest_batch_messages_count"],
        samples["signal_ingest_batch_messages_sum"],
        samples["signal_ingest_commit_seconds_sum"],
    )


class Ingestors:
    """`count` ingestors, each in a process of its own as `shelter-signal ingest` runs; more
    than one share the messages through an MQTT 5 shared subscription, as deploy/systemd's
    shelter-signal-ingest@ units do (SIGNAL_INGEST_SHARED_GROUP)."""

    def __init__(self, database_url: str, broker_url: str, count: int):
        context = spawn_context()
        self._ready, self._snapshot, self._stop = context.Queue(), context.Event(), context.Event()
        group = "bench" if count > 1 else None
        args = (database_url, broker_url, group, self._ready, self._snapshot, self._stop)
        self.children = [
            context.Process(target=ingestor_main, args=args, daemon=True) for _ in range(count)
        ]

    def __enter__(self) -> "Ingestors":
        for child in self.children:
            child.start()
        for _ in self.children:
            error = self._ready.get(timeout=60)
            if error:
                raise RuntimeError(f"ingestor failed:\n{error}")
        return self

    def batches(self) -> tuple[float, float, float]:
        """(batches, messages, seconds handling them) of all ingestors so far."""
        self._snapshot.set()
        figures = [self._ready.get(timeout=30) for _ in self.children]
        return tuple(sum(column) for column in zip(*figures, strict=True))

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        for child in self.children:
            child.join(15)
            if child.is_alive():
                child.kill()

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(child.pid) for child in self.children)


def postgres_cpu_seconds(cluster: Postgres) -> float:
    """CPU time of a cluster so far: the postmaster, its live processes (the ingestors'
    backends, WAL writer...) and those that ended (Linux /proc: cutime, cstime)."""
    postmaster = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    total = cpu_seconds(postmaster, children=True)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):  # a process that has just ended
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                if parent == postmaster:
                    total += cpu_seconds(int(entry))
    return total


def round_trip_phases(
    args,
    cluster: Postgres | None,
    database_url: str | None,
    ingestors: int = 1,
    echo_client: str = "paho",
) -> tuple:
    """Phase 2 (database_url None: echo) or 3 (ingest): loaded, then unloaded round trips.
    Returns both and the CPU seconds each part used in the loaded run."""
    per_dial = max(1, args.messages // args.dials)
    total = per_dial * args.dials
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(start_broker(args.nagle))
        if database_url is None:
            device_ids = [f"bench-{n:03d}" for n in range(args.dials)]
            echo = GmqttEcho(broker.url) if echo_client == "gmqtt" else start_echo(broker.url)
            server_cpu = functools.partial(cpu_seconds, os.getpid())  # the echo runs here
        else:
            migrate(database_url)
            engine = make_engine(database_url)
            device_ids = seed_dials(engine, args.dials)
            ingestors = stack.enter_context(Ingestors(database_url, broker.url, ingestors))
            server_cpu = ingestors.cpu_seconds
        parts = {
            "server": server_cpu,
            "broker": functools.partial(cpu_seconds, broker.pid()),
            "database": functools.partial(postgres_cpu_seconds, cluster) if cluster else None,
        }
        before = {name: read() for name, read in parts.items() if read}
        loaded = run_child(fleet, broker.url, device_ids, per_dial, args.window, 1)
        cpu = {name: parts[name]() - was for name, was in before.items()}
        cpu["dials"] = loaded["cpu"]
        if database_url is not None:
            loaded["batches"] = ingestors.batches()
        # One dial, one state at a time; boot 2, so no (boot, seq) repeats a stored reading.
        unloaded = run_child(fleet, broker.url, device_ids[:1], args.latency_samples, 1, 2)
        if database_url is None:
            echo.close() if echo_client == "gmqtt" else close(echo)
        else:
            wait_for_rows(engine, total + args.latency_samples)
            engine.dispose()
    for name, result, expected in (("loaded", loaded, total), ("unloaded", unloaded, None)):
        expected = expected or args.latency_samples
        if result["acked"] != expected or result["rejected"]:
            raise RuntimeError(
                f"{name}: {result['acked']} of {expected} acked, {result['rejected']} rejected"
            )
    # Done when every ack is back: each was sent after its reading's commit.
    loaded.update(messages=total, seconds=loaded["end"] - loaded["start"])
    return loaded, unloaded, cpu


# --------------------------------------------------------------------------- main


NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def plan(args) -> list[tuple[str, list[int]]]:
    """(database, ingestor counts) in the order to run them."""
    return getattr(args, "plan", None) or [(db, args.ingestors) for db in args.databases]


def main() -> None:
    parser = command_line(__package__, __doc__, "smoke run: few messages")
    parser.add_argument("--messages", type=int, default=20000, help="states sent in phases 2, 3")
    parser.add_argument("--raw-messages", type=int, default=100000, help="messages in phase 1")
    parser.add_argument("--dials", type=int, default=200, help="simulated dials (M)")
    parser.add_argument("--window", type=int, default=1, help="unacked states per dial (W)")
    parser.add_argument("--latency-samples", type=int, default=200, help="unloaded round trips")
    parser.add_argument(
        "--nagle",
        action="store_true",
        help="leave out Mosquitto's set_tcp_nodelay (deploy/ sets it; Mosquitto's default is off)",
    )
    parser.add_argument(
        "--databases",
        nargs="+",
        choices=NAMES,
        default=list(NAMES),
        help="ingest into SQLite as shipped, a throwaway PostgreSQL, or each in turn",
    )
    parser.add_argument(
        "--echo",
        nargs="+",
        choices=["paho", "gmqtt"],
        default=["paho"],
        help="the echo responder's MQTT client(s): the first is the baseline (gmqtt: see "
        "GMQTT_MISSING)",
    )
    parser.add_argument(
        "--ingestors",
        type=int,
        nargs="+",
        default=[1, 2],
        help="ingestor processes (more than one: a shared subscription); an ingest phase for "
        "each count, on each database",
    )
    args = parser.parse_args()
    if args.quick:
        args.dials, args.messages, args.raw_messages, args.latency_samples = 20, 400, 2000, 20
        args.plan = [("sqlite", [1]), ("postgresql", [2])]  # each database and both ways, once

    print_header(args.quick)
    print(
        f"{args.dials} dials, window {args.window}, {args.messages} states; "
        f"raw {args.raw_messages} messages; {args.latency_samples} unloaded round trips; "
        f"Mosquitto {'with Nagle (its default)' if args.nagle else 'as deploy/ configures it'}"
        + "; ingest: "
        + ", ".join(f"{NAMES[db]} with {'/'.join(map(str, n))} ingestor(s)" for db, n in plan(args))
        + "\n"
    )
    raw = raw_phase(args.raw_messages, args.nagle)
    phases = [
        (f"echo on {client} (no database)", *round_trip_phases(args, None, None, 1, client))
        for client in args.echo
    ]
    echoes = len(phases)
    for database, counts in plan(args):
        with contextlib.ExitStack() as stack:
            if database == "postgresql":  # synchronous commits, as production
                cluster = stack.enter_context(Postgres(durable=True))
            else:
                cluster, tmp = None, stack.enter_context(tempfile.TemporaryDirectory())
            for count in counts:
                name = f"ingest, {count} ingestor{'s' if count > 1 else ''} ({NAMES[database]})"
                if cluster:
                    url = cluster.new_database(f"bench_{count}")
                else:
                    url = f"sqlite:///{tmp}/bench-{count}.db"
                phases.append((name, *round_trip_phases(args, cluster, url, count)))

    print(f"Load average after: {load()}\n")

    def rate(phase: dict) -> float:
        return phase["messages"] / phase["seconds"]

    rows = [["raw QoS 1 (mosquitto_pub -> mosquitto_sub)", raw, None]]
    rows += [[f"{name}, {args.dials} dials", loaded, None] for name, loaded, _u, _c in phases]
    print(
        table(
            ["phase", "messages", "seconds", "msgs/s", "vs raw", "publish->ack ms p50/p90/p99/max"],
            [
                [
                    name,
                    str(p["messages"]),
                    f"{p['seconds']:.2f}",
                    f"{rate(p):.0f}",
                    f"{rate(p) / rate(raw):.3f}",
                    ms_percentiles(p.get("latencies", [])),
                ]
                for name, p, _ in rows
            ],
        )
    )
    # Where the CPU went: per 1,000 messages, for each part (the machine has os.cpu_count()).
    print("\nCPU ms per 1,000 states in the loaded run (and cores used while it ran):")
    cpu_rows = []
    for name, loaded, _unloaded, cpu in phases:
        per = 1e6 / loaded["messages"]
        cpu_rows.append(
            [name]
            + [
                f"{cpu[part] * per:.0f} ({cpu[part] / loaded['seconds']:.2f})"
                if part in cpu
                else "-"
                for part in ("server", "database", "broker", "dials")
            ]
        )
    print(table(["phase", "server", "PostgreSQL", "Mosquitto", "dials"], cpu_rows))
    print("\nIngestor batches in the loaded run (states and the ingestor's own acks, which")
    print("signal/# brings back to it):")
    for name, loaded, _unloaded, _cpu in phases[echoes:]:
        batches, messages, seconds = loaded["batches"]
        print(
            f"  {name}: {batches:.0f} transactions, {messages / batches:.1f} messages each, "
            f"{1000 * seconds / batches:.1f} ms each to handle and commit"
        )
    print("\nUnloaded (1 dial, 1 state in flight) publish->ack ms p50/p90/p99/max:")
    for name, _loaded, unloaded, _cpu in phases:
        print(f"  {name}: {ms_percentiles(unloaded['latencies'])}")
    echo, echo_unloaded = phases[0][1], phases[0][2]
    print("\nRatios (same run):")
    for name, other, _unloaded, _cpu in phases[1:echoes]:
        print(f"  {name} / {phases[0][0]} throughput = {rate(other) / rate(echo):.3f}")
    for name, ingest, ingest_unloaded, _cpu in phases[echoes:]:
        print(f"  {name}:")
        print(f"    ingest / raw  throughput   = {rate(ingest) / rate(raw):.3f}")
        print(f"    ingest / echo throughput   = {rate(ingest) / rate(echo):.3f}")
        slower = percentile(ingest_unloaded["latencies"], 50) / percentile(
            echo_unloaded["latencies"], 50
        )
        print(f"    ingest / echo p50 unloaded = {slower:.1f}x")


if __name__ == "__main__":
    main()
