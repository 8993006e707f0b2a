"""A real day at Toronto's shelters, counted on real dials while the system is broken on purpose.

The City of Toronto's occupancy CSV (Open Government Licence - Toronto) gives, per program,
last night's and tonight's occupancy (`read_day`). `plan_steps` turns it into front-desk
work: in the morning some clients leave (-1 each), in the evening the count climbs to tonight's
(+1 each), spread at random over the day, compressed into `Config.day_seconds`. The city
publishes one count a night, so the moves within the day are a model; the counts at either
end are the city's.

Sites and programs come from the real importer (server/imports/city.py); each site gets one
dial with a channel per program: the firmware's App, Store and HostTransport, as
server/simulator/fleet.py builds them, so resends, pending commits and boots are the
firmware's own logic. The ingestor is `shelter-signal ingest` in a process of its own, on
Mosquitto (persistence on) and PostgreSQL (synchronous commits), all real.

While the day runs, `run` injects the faults of `Config.faults` (kinds in `FAULTS`), then
checks that the database holds every commit the broker accepted exactly once, and that each
program's current state is its dial's last commit.

What the dials sent is known from two records kept apart from the system under test:
- each dial's transport notes every state the broker confirmed (PUBACK): these must be stored;
- an observer with a persistent session subscribes to every state and every ack: it sees
  exactly what the broker accepted, including a commit whose PUBACK a broken link swallowed
  (the dial cannot know whether such a commit arrived; `in_doubt` counts them), and every
  answer of the ingestor.
The observer's copies also feed the raw publisher that sends duplicates and old states.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import paho.mqtt.client as mqtt
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, func, select

from bench._common import BROKER_CONFIG as DEPLOYED_BROKER
from bench._common import percentile, table
from firmware.dialcore import protocol
from firmware.dialcore.app import App
from firmware.dialcore.clock import unix_time
from firmware.dialcore.store import Store
from server import mqtt_url
from server.db import make_engine, migrate
from server.devices import register
from server.imports.city import import_file
from server.imports.profile import TORONTO
from server.imports.records import read
from server.models import CurrentState, DeadLetter, DeviceChannel, Program, Reading
from server.simulator.host_transport import HostTransport
from tests.support.services import IngestorProcess, Mosquitto, Postgres, free_port

# The last night in the file: the importer takes capacities from each program's newest row,
# so on this day the dials count against the capacities the city had that night.
DAY = date(2024, 3, 25)
FAULTS = (
    "broker restart",
    "ingestor kill -9",
    "database restart",
    "device disconnect",
    "device reboot with unsent commits",
    "duplicates",
    "reordered",
)
# Outside the guarantee, so not among FAULTS: a broker killed while it holds messages in
# memory loses those it had not saved (docs/reliability.md). Asked for explicitly.
BROKER_CRASH = "broker kill -9 while the ingestor is away"
CRASH_QUEUE_S = 3.0  # how long messages pile up in the broker's memory before it is killed
# Mosquitto writing its state after every change instead of every minute (an option to weigh).
SAVE_EVERY_CHANGE = ("autosave_on_changes true", "autosave_interval 1")
# What matters here of how production runs Mosquitto (deploy/mosquitto/shelter-signal.conf):
# a queue for a stopped ingestor far above the default 1,000 messages, small acks sent at once
# (as for every benchmark), and the state saved every minute (an orderly restart saves it).
BROKER_CONFIG = (*DEPLOYED_BROKER, "autosave_interval 60")
INGEST_CLIENT_ID = "soak-ingest"  # the same at every restart: the broker keeps its session
DOWN_S = 1.0  # how long the broker and the ingestor stay down when restarted
DUPLICATES_PER_FAULT = 20  # old states re-sent by one "duplicates" fault
REORDERED_PER_FAULT = 3  # a dial's last states re-sent newest first by one "reordered" fault
SETTLED_TIMEOUT_S = 120  # for every dial to be saved at the end: several 15 s resend rounds


@dataclass
class Config:
    data: Path  # the city's occupancy CSV, holding `day` and the night before
    locations: Path | None = None  # geocoded points by LOCATION_ID, if any (import --locations)
    centroids: Path | None = None  # postal-area centres, if any (import --centroids)
    day: date = DAY
    sites: int | None = None  # the first N sites (by city location id) of the day; None: all
    day_seconds: float = 600.0  # the whole day, compressed
    turnover: float = 0.15  # share of last night's clients who leave in the morning (a model)
    faults: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAULTS, 1))
    outage_seconds: float = 120.0  # how long a disconnected dial stays cut off
    settle_ms: int = 2000  # the firmware's own settle time
    broker_config: tuple[str, ...] = BROKER_CONFIG
    seed: int = 2024
    progress: Callable[[str], None] = lambda _line: None


# --------------------------------------------------------------------------- the day


@dataclass
class ProgramDay:
    source_id: str  # toronto:<PROGRAM_ID>, as the importer keys programs
    location: int
    start: int  # last night's count (tonight's, for a program that opened today)
    end: int  # tonight's count


def read_day(csv_path: Path, day: date) -> dict[int, list[ProgramDay]]:
    """Location -> its programs on `day`, with last night's and tonight's counts."""
    previous = day.fromordinal(day.toordinal() - 1)
    nights: dict[date, dict[str, tuple[int, int]]] = defaultdict(dict)  # date -> program -> ...
    for record in read(csv_path, TORONTO, []):  # rows the importer skips are skipped too
        if record.night not in (previous, day):
            continue
        program = f"{TORONTO.source}:{record.program_key}"
        nights[record.night][program] = (int(record.site_key), record.occupied or 0)
    sites: dict[int, list[ProgramDay]] = defaultdict(list)
    for program, (location, end) in sorted(nights[day].items()):
        start = nights[previous].get(program, (location, end))[1]
        sites[location].append(ProgramDay(program, location, start, end))
    return dict(sorted(sites.items()))


@dataclass(order=True)
class Step:
    at: float  # fraction of the day, 0..1
    location: int
    channel: int
    delta: int  # +1 a client arrives, -1 a client leaves


def plan_steps(sites: dict[int, list[ProgramDay]], turnover: float, rng: random.Random):
    """Morning departures, then evening arrivals up to tonight's count, one client a step."""
    steps = []
    for location, programs in sites.items():
        for channel, program in enumerate(programs):
            leave = round(program.start * turnover)
            arrive = program.end - (program.start - leave)
            if arrive < 0:  # fewer tonight than stayed: the extra ones left in the morning too
                leave, arrive = program.start - program.end, 0
            steps += [Step(rng.uniform(0.0, 0.5), location, channel, -1) for _ in range(leave)]
            steps += [Step(rng.uniform(0.5, 1.0), location, channel, +1) for _ in range(arrive)]
    return sorted(steps)


def setup_database(url: str, config: Config, sites: dict[int, list[ProgramDay]]) -> dict[str, int]:
    """Import the city's sites and programs and register a dial per site; return device ids
    -> its site's location id."""
    migrate(url)
    engine = make_engine(url)
    devices = {}
    with Session(engine) as session:
        import_file(session, config.data, TORONTO, None, config.locations, config.centroids)
        programs = {p.source_id: p for p in session.exec(select(Program))}
        for location, day in sites.items():
            device_id = f"dial-{location}"
            first = programs[day[0].source_id]
            # The dial shows the program's name (24 characters fit its screen and the protocol).
            channels = [(programs[p.source_id].id, programs[p.source_id].name[:24]) for p in day]
            register(session, device_id, first.site_id, channels, "occupied")
            devices[device_id] = location
        session.commit()
    engine.dispose()
    return devices


# --------------------------------------------------------------------------- what was sent


Key = tuple[str, int, int]  # (device, boot, seq): one commit


@dataclass
class Sent:
    """What the dials know they sent, and what the broker accepted (the observer's view)."""

    confirmed: dict[Key, bytes] = field(default_factory=dict)  # PUBACK seen by the dial
    in_doubt: set[Key] = field(default_factory=set)  # the link broke before the PUBACK
    state_sends: int = 0  # state publishes the broker confirmed, resends included
    observed: dict[Key, bytes] = field(default_factory=dict)  # every state the broker passed on
    deliveries: int = 0  # state messages the observer received, copies included
    acks: int = 0  # "saved" acks the ingestor published, one per state message it handled
    acked: set[Key] = field(default_factory=set)  # the commits those acks were for
    rejected: int = 0  # acks that refused a state: none of the dials' states deserves one
    committed_at: dict[Key, float] = field(default_factory=dict)  # every commit, superseded too
    saved_at: dict[Key, float] = field(default_factory=dict)  # when the dial got its "saved"
    lock: threading.Lock = field(default_factory=threading.Lock)


def state_key(topic: str, payload: bytes) -> Key:
    message = json.loads(payload)
    return protocol.parse_topic(topic)[0], message["boot"], message["seq"]


class RecordingStore(Store):
    """The dial's flash, noting when each commit was written to it."""

    def __init__(self, path: str, device_id: str, sent: Sent):
        super().__init__(path)
        self.device_id = device_id
        self.sent = sent

    def save(self) -> None:
        super().save()
        if self.pending:  # a commit (or a reply to it) was just written
            key = (self.device_id, self.pending["boot"], self.pending["seq"])
            self.sent.committed_at.setdefault(key, time.time())


class RecordingTransport(HostTransport):
    """The simulator's transport, noting what became of each state the dial sent."""

    def __init__(self, url: str, client_id: str, sent: Sent):
        super().__init__(url, client_id)
        self.sent = sent

    async def connect(self, will, on_message, on_up, on_down) -> None:
        def noting_acks(topic: str, payload: bytes) -> None:
            if topic.endswith("/ack") and json.loads(payload)["result"] == "saved":
                self.sent.saved_at.setdefault(state_key(topic, payload), time.time())
            on_message(topic, payload)

        await super().connect(will, noting_acks, on_up, on_down)

    async def publish(self, topic: str, payload: bytes, retain: bool = False, qos: int = 0):
        if not topic.endswith("/state") or not self.connected:
            return await super().publish(topic, payload, retain, qos)  # raises when offline
        key = state_key(topic, payload)
        try:
            await super().publish(topic, payload, retain, qos)
        except OSError:
            self.sent.in_doubt.add(key)  # handed to the network; whether it arrived is unknown
            raise
        self.sent.confirmed[key] = payload
        self.sent.state_sends += 1


class Observer:
    """A persistent-session subscriber to every state, what the broker accepted, and to
    every ack, what the ingestor answered (a duplicate is answered "saved" again)."""

    def __init__(self, url: str, sent: Sent):
        self.sent = sent
        host, port = mqtt_url.parse(url)
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="soak-observer", clean_session=False
        )
        self.client.on_connect = self._connected
        self.client.on_message = self._message
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)  # back soon after a restart
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.connect(host, port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise RuntimeError("the observer could not subscribe")

    @staticmethod
    def _connected(client, _userdata, flags, reason_code, _properties):
        # A broker that kept our session keeps the subscription; one that lost it (a crash
        # before it saved its state) needs it again.
        if not reason_code.is_failure and not flags.session_present:
            client.subscribe([("signal/+/+/state", 1), ("signal/+/+/ack", 1)])

    def has_seen(self, keys: set[Key]) -> bool:
        """Whether these states, and the ingestor's acks for them, have reached the observer."""
        with self.sent.lock:
            return keys <= set(self.sent.observed) and keys <= self.sent.acked

    def _message(self, _client, _userdata, message):
        key = state_key(message.topic, message.payload)
        with self.sent.lock:
            if message.topic.endswith("/ack"):
                if json.loads(message.payload)["result"] != "saved":
                    self.sent.rejected += 1
                self.sent.acks += 1
                self.sent.acked.add(key)
                return
            self.sent.observed[key] = message.payload
            self.sent.deliveries += 1

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


class RawPublisher:
    """Re-sends states the observer saw: a device (or broker) repeating old messages."""

    def __init__(self, url: str):
        self.host, self.port = mqtt_url.parse(url)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="soak-raw")
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.connect(self.host, self.port)
        self.client.loop_start()
        self.sent = 0

    def send(self, messages: list[tuple[Key, bytes]]) -> None:
        """Publish in the given order, each once the broker took the one before (QoS 1)."""
        for (device, _boot, _seq), payload in messages:
            deadline = time.monotonic() + 30  # back from a broker restart before that
            while not self.client.is_connected() and time.monotonic() < deadline:
                time.sleep(0.1)
            # Not retained: the retained copy stays the dial's newest state.
            info = self.client.publish(protocol.topic(device, "state"), payload, qos=1)
            info.wait_for_publish(timeout=30)
            if not info.is_published():
                raise RuntimeError("the broker did not take a re-sent state")
            self.sent += 1

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


# --------------------------------------------------------------------------- a cuttable link


class Link:
    """A TCP relay between a dial and the broker that can be cut, like the site's Wi-Fi.

    Cut, it closes the dial's connection and refuses new ones until restored: the broker sees
    the connection drop (and sends the dial's "lost" will), the dial retries with its back-off.
    """

    def __init__(self, broker_host: str, broker_port: int):
        self.broker = (broker_host, broker_port)
        self.port = free_port()
        self.up = True
        self._pipes: set[asyncio.StreamWriter] = set()
        self._relaying: set[asyncio.Task] = set()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def close(self) -> None:
        self.cut()
        if self._server:
            self._server.close()
        if self._relaying:  # cut() closed their sockets: they end on their own
            await asyncio.wait(self._relaying, timeout=5)

    def cut(self) -> None:
        self.up = False
        for writer in list(self._pipes):
            writer.close()

    def restore(self) -> None:
        self.up = True

    async def _accept(self, reader, writer) -> None:
        if not self.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.broker)
        except OSError:  # the broker is down: so is the dial's connection
            writer.close()
            return
        self._pipes |= {writer, up_writer}
        task = asyncio.current_task()
        self._relaying.add(task)
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._pipes -= {writer, up_writer}
            self._relaying.discard(task)

    @staticmethod
    async def _pipe(reader, writer) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()  # one side ended: end the other, as a dropped TCP link does


# --------------------------------------------------------------------------- the run


@dataclass
class Result:
    programs: int = 0
    dials: int = 0
    steps: int = 0  # clients arriving or leaving, as turns of a dial
    commits: int = 0  # commits the dials made (each numbered, on flash)
    state_sends: int = 0  # state messages the broker confirmed to dials, resends included
    superseded: int = 0  # commits replaced on the dial by a newer one before they were sent
    in_doubt: int = 0  # commits whose send a broken link interrupted
    in_doubt_arrived: int = 0  # ... of which the broker had taken (and so must be stored)
    raw_sent: int = 0  # old states re-sent by the raw publisher
    deliveries: int = 0  # state messages the broker passed on (observer), copies included
    expected: int = 0  # distinct commits the broker accepted: the history there must be
    stored: int = 0  # distinct commits in the database
    duplicates_refused: int = 0  # copies the ingestor acknowledged again without storing
    lost: int = 0  # commits the broker accepted that are not in the database
    doubled: int = 0  # readings stored more than once, or stored without being sent
    altered: int = 0  # readings stored with other numbers than the dial sent
    rejected: int = 0  # states the ingestor refused (acked "rejected")
    dead_letters: int = 0  # messages the ingestor could not accept: none of these deserves it
    current_wrong: int = 0  # programs whose current state is not their dial's last commit
    faults: Counter = field(default_factory=Counter)
    # (what was going on, commits, median and worst seconds from commit to "saved")
    freshness: list[tuple[str, int, float, float]] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        kinds = (*FAULTS, BROKER_CRASH) if self.faults[BROKER_CRASH] else FAULTS
        faults = ", ".join(f"{kind} {self.faults[kind]}" for kind in kinds)
        return [
            f"programs {self.programs} on {self.dials} dials; {self.steps} clients moved",
            f"commits made {self.commits}; superseded on the dial before sending "
            f"{self.superseded} (by design: a dial sends its newest commit)",
            f"readings sent (broker-confirmed state messages, resends included) "
            f"{self.state_sends}; old states re-sent raw {self.raw_sent}",
            f"sends cut off by a fault {self.in_doubt}, of which the broker had taken "
            f"{self.in_doubt_arrived}",
            f"state messages the broker passed on {self.deliveries}; duplicates the ingestor "
            f"refused (acknowledged, not stored) {self.duplicates_refused}",
            f"expected commits {self.expected}; stored {self.stored}; lost {self.lost}; "
            f"doubled {self.doubled}; altered {self.altered}; rejected {self.rejected}; "
            f"dead letters {self.dead_letters}; "
            f"wrong current states {self.current_wrong}",
            f"faults injected: {faults}",
            f"took {self.seconds:.0f} s",
            "seconds from a commit until the dial shows it (or a newer one) SAVED:",
            table(
                ["while", "commits", "median", "worst"],
                [
                    [what, str(n), f"{median:.1f}", f"{worst:.1f}"]
                    for what, n, median, worst in self.freshness
                ],
            ),
        ]

    @property
    def exact(self) -> bool:
        wrong = (self.lost, self.doubled, self.altered, self.rejected, self.dead_letters)
        return (
            wrong == (0, 0, 0, 0, 0) and self.current_wrong == 0 and (self.stored == self.expected)
        )


class Day:
    """Everything one run needs: services, dials, records; `run` drives it."""

    def __init__(self, config: Config, workdir: Path):
        self.config = config
        self.workdir = workdir
        self.rng = random.Random(config.seed)
        self.sent = Sent()
        self.result = Result()
        self.apps: dict[str, App] = {}
        self.tasks: dict[str, asyncio.Task] = {}
        self.links: dict[str, Link] = {}
        self.background: list[asyncio.Task] = []
        # (fault, the dial it hit or None for all, began, ended), in Unix time
        self.windows: list[tuple[str, str | None, float, float]] = []

    # -- the dials, on this thread's asyncio loop, like a real dial's single thread --------

    def start_dial(self, device_id: str) -> App:
        url = self.links[device_id].url if device_id in self.links else self.broker.url
        app = App(
            device_id,
            RecordingStore(str(self.workdir / f"{device_id}.json"), device_id, self.sent),
            RecordingTransport(url, device_id, self.sent),
            settle_ms=self.config.settle_ms,
            unix_time=unix_time,
        )
        self.apps[device_id] = app
        self.tasks[device_id] = asyncio.create_task(app.run())
        return app

    def power_cut(self, device_id: str) -> None:
        """Gone, mid-whatever: no "offline" status, no disconnect; only the flash survives."""
        self.tasks.pop(device_id).cancel()
        self.apps.pop(device_id).transport.fall_silent()  # its link goes quiet, not closed

    async def configured(self) -> None:
        async with asyncio.timeout(60):
            while any(app.config["version"] == 0 for app in self.apps.values()):
                await asyncio.sleep(0.1)

    def move(self, device_id: str, channel: int, delta: int) -> None:
        """Front-desk staff: short presses to reach the program's channel, then a turn.

        Each press commits (a confirmation of the counts); the turn commits once the dial
        has been still for its settle time.
        """
        app = self.apps.get(device_id)
        if app is None:
            return  # the dial is rebooting: this client goes uncounted, as at a real desk
        while app.dial.channel != channel:
            app.press()
        app.turn(delta)

    # -- the faults ----------------------------------------------------------------------

    async def fault(self, kind: str) -> None:
        self.result.faults[kind] += 1
        began = time.time()
        device_id = await self._inject(kind)
        if device_id is None:  # a fault of the whole system: over now
            self.windows.append((kind, None, began, time.time()))

    async def _inject(self, kind: str) -> str | None:
        """Inject one fault; a device's fault goes on in the background: return its dial."""
        if kind == "broker restart":
            await asyncio.to_thread(self.broker.stop)
            await asyncio.sleep(DOWN_S)
            await asyncio.to_thread(self.broker.start)
        elif kind == BROKER_CRASH:
            await asyncio.to_thread(self.ingestor.kill)
            await asyncio.sleep(CRASH_QUEUE_S)
            await asyncio.to_thread(self.broker.crash)
            await asyncio.sleep(DOWN_S)
            await asyncio.to_thread(self.broker.start)
            self.ingestor.start()
        elif kind == "ingestor kill -9":
            await asyncio.to_thread(self.ingestor.kill)
            await asyncio.sleep(DOWN_S)
            self.ingestor.start()
        elif kind == "database restart":
            await asyncio.to_thread(self.postgres.restart)
        elif kind == "device disconnect":  # on its own (for minutes); the day goes on
            device_id = self.pick("disconnect")
            self.background.append(asyncio.create_task(self.disconnect(device_id)))
            return device_id
        elif kind == "device reboot with unsent commits":
            device_id = self.pick("reboot")
            self.background.append(asyncio.create_task(self.reboot(device_id)))
            return device_id
        elif kind == "duplicates":
            observed = self.observed()
            await self.resend(self.rng.sample(observed, min(DUPLICATES_PER_FAULT, len(observed))))
        elif kind == "reordered":
            await self.reorder()

    def pick(self, purpose: str) -> str:
        """The next dial set aside (behind a cuttable link) for this kind of fault."""
        return self.reserved[purpose].pop()

    def observed(self) -> list[tuple[Key, bytes]]:
        with self.sent.lock:
            return sorted(self.sent.observed.items())

    async def resend(self, messages: list[tuple[Key, bytes]]) -> None:
        await asyncio.to_thread(self.raw.send, messages)

    async def reorder(self) -> None:
        """A dial's last few states again, newest first: each older one arrives after a newer
        one, and must not replace the current state."""
        by_device = defaultdict(list)
        for key, payload in self.observed():
            by_device[key[0]].append((key, payload))
        busiest = max(by_device.values(), key=len)
        await self.resend(busiest[-REORDERED_PER_FAULT:][::-1])

    async def disconnect(self, device_id: str) -> None:
        """The site's Wi-Fi drops for `outage_seconds`; staff keep counting meanwhile."""
        began, link = time.time(), self.links[device_id]
        link.cut()
        await asyncio.sleep(0.5)  # the dial notices the link is gone
        self.apps[device_id].press()  # at least one commit made offline, sent on reconnect
        await asyncio.sleep(self.config.outage_seconds)
        link.restore()
        self.windows.append(("device disconnect", device_id, began, time.time()))

    async def reboot(self, device_id: str) -> None:
        """Offline, staff commit; the power goes; the dial starts again from its flash."""
        began, link = time.time(), self.links[device_id]
        link.cut()
        await asyncio.sleep(0.5)  # the dial notices the link is gone
        app = self.apps[device_id]
        app.press()  # commits that cannot be sent: the newest stays pending on flash
        app.press()
        await asyncio.sleep(0.1)  # on flash before the power goes (written synchronously)
        assert app.store.pending is not None, f"{device_id}: no unsent commit to reboot with"
        self.power_cut(device_id)
        await asyncio.sleep(1.0)  # the time it takes to plug it in again
        self.start_dial(device_id)
        link.restore()
        self.windows.append(("device reboot with unsent commits", device_id, began, time.time()))

    # -- the run -------------------------------------------------------------------------

    async def run(self, broker: Mosquitto, postgres: Postgres) -> Result:
        config, result = self.config, self.result
        began = time.monotonic()
        self.broker, self.postgres = broker, postgres
        sites = read_day(config.data, config.day)
        if config.sites is not None:
            sites = dict(list(sites.items())[: config.sites])
        database = postgres.new_database(f"soak_{uuid.uuid4().hex[:8]}")
        devices = await asyncio.to_thread(setup_database, database, config, sites)
        result.programs = sum(len(p) for p in sites.values())
        result.dials = len(devices)
        steps = plan_steps(sites, config.turnover, self.rng)
        result.steps = len(steps)

        # Dials that will be cut off or rebooted go through a link of their own.
        cut = config.faults.get("device disconnect", 0)
        hit = cut + config.faults.get("device reboot with unsent commits", 0)
        if hit > len(devices):
            raise ValueError(f"{hit} device faults need as many sites; there are {len(devices)}")
        chosen = self.rng.sample(sorted(devices), hit)
        self.reserved = {"disconnect": chosen[:cut], "reboot": chosen[cut:]}
        for device_id in chosen:
            self.links[device_id] = Link(broker.host, broker.port)
            await self.links[device_id].start()

        self.observer = Observer(broker.url, self.sent)
        self.raw = RawPublisher(broker.url)
        self.ingestor = IngestorProcess(database, broker.url, INGEST_CLIENT_ID, self.workdir)
        self.ingestor.start()
        engine = make_engine(database)
        try:
            for device_id in devices:
                self.start_dial(device_id)
            await self.configured()
            config.progress(f"{result.dials} dials configured; the day begins")
            await self.open_day(devices, sites)
            await asyncio.gather(self.staff(devices, steps), self.inject(engine))
            await asyncio.gather(*self.background)
            await self.fault("reordered")  # after the day's last commits too, then close the day:
            await self.close_day()
            self.check(engine, devices)
        finally:
            for app in list(self.apps.values()):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(app.stop(), 5)
            for task in self.tasks.values():
                task.cancel()
            for link in self.links.values():
                await link.close()
            self.ingestor.stop()
            self.observer.close()
            self.raw.close()
            engine.dispose()
        result.seconds = time.monotonic() - began
        return result

    async def open_day(self, devices: dict[str, int], sites) -> None:
        """Staff set each dial to last night's counts, one channel after another."""
        for device_id, location in devices.items():
            for channel, program in enumerate(sites[location]):
                self.move(device_id, channel, program.start)
                self.apps[device_id].press()

    async def staff(self, devices: dict[str, int], steps: list[Step]) -> None:
        dial_of = {location: device_id for device_id, location in devices.items()}
        start = time.monotonic()
        for step in steps:
            await asyncio.sleep(
                max(0.0, start + step.at * self.config.day_seconds - time.monotonic())
            )
            self.move(dial_of[step.location], step.channel, step.delta)

    async def inject(self, engine) -> None:
        """Every fault at its own moment, spread over the day, in a shuffled order; progress
        lines between them."""
        kinds = [
            kind for kind in (*FAULTS, BROKER_CRASH) for _ in range(self.config.faults.get(kind, 0))
        ]
        self.rng.shuffle(kinds)
        start = time.monotonic()
        for number, kind in enumerate(kinds, start=1):
            at = number / (len(kinds) + 1) * self.config.day_seconds
            await asyncio.sleep(max(0.0, start + at - time.monotonic()))
            await self.fault(kind)
            stored = await asyncio.to_thread(count_readings, engine)
            self.config.progress(
                f"{time.monotonic() - start:5.0f} s  fault {number}/{len(kinds)}: {kind}; "
                f"{len(self.sent.confirmed)} commits confirmed by the broker, "
                f"{stored} readings stored"
            )

    async def close_day(self) -> None:
        """A last confirming press on every dial, then wait until every dial shows SAVED.

        The ingestor handles messages in the order the broker delivers them, so once these
        last commits are saved, every old state re-sent before them has been handled too.
        """
        for app in self.apps.values():
            app.press()
        await self.wait(
            lambda: not any(app.store.pending for app in self.apps.values()),
            SETTLED_TIMEOUT_S,
            "every dial to show SAVED",
        )
        await self.wait(
            lambda: self.observer.has_seen(set(self.sent.confirmed)),
            30,
            "the observer's copies of every confirmed commit and its ack",
        )

    async def wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        """Wait for `done`; if it never comes, say so and go on: check() then counts what is
        missing, which is the run's finding."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                self.config.progress(f"gave up after {timeout} s waiting for {what}")
                return
            await asyncio.sleep(0.1)

    def check(self, engine, devices: dict[str, int]) -> None:
        result, sent = self.result, self.sent
        with sent.lock:
            expected = dict(sent.observed)  # what the broker accepted...
        missing_at_broker = set(sent.confirmed) - set(expected)  # ...which has all confirmed
        result.lost += len(missing_at_broker)
        result.commits = sum(app.store.seq for app in self.apps.values())
        result.state_sends = sent.state_sends
        unconfirmed = sent.in_doubt - set(sent.confirmed)
        result.in_doubt = len(unconfirmed)
        result.in_doubt_arrived = len(unconfirmed & set(expected))
        result.superseded = (
            result.commits - len(expected) - (result.in_doubt - result.in_doubt_arrived)
        )
        result.raw_sent = self.raw.sent
        result.deliveries = sent.deliveries
        result.expected = len(expected)

        want = {}  # (device, boot, seq, channel) -> (occupied, capacity)
        for (device, boot, seq), payload in expected.items():
            for channel, values in enumerate(json.loads(payload)["channels"]):
                want[(device, boot, seq, channel)] = (values["count"], values["capacity"])
        with Session(engine) as session:
            stored = session.exec(
                select(
                    Reading.device_id,
                    Reading.boot,
                    Reading.seq,
                    Reading.channel,
                    Reading.occupied,
                    Reading.capacity,
                ).where(col(Reading.device_id).in_(list(devices)))
            ).all()
            result.dead_letters = session.exec(select(func.count()).select_from(DeadLetter)).one()
            current = {
                (pair.device_id, pair.channel): state
                for pair, state in session.exec(
                    select(DeviceChannel, CurrentState).join(
                        CurrentState, CurrentState.program_id == DeviceChannel.program_id
                    )
                )
            }
        got = Counter(tuple(row[:4]) for row in stored)
        result.stored = len({row[:3] for row in stored})
        result.duplicates_refused = sent.acks - len(sent.acked)
        result.rejected = sent.rejected
        result.doubled = sum(n - 1 for n in got.values()) + len(set(got) - set(want))
        result.lost += len({key[:3] for key in set(want) - set(got)})
        result.altered = sum(1 for row in stored if want.get(tuple(row[:4]), row[4:]) != row[4:])
        result.freshness = self.freshness()
        for device_id, app in self.apps.items():
            last = max(key for key in expected if key[0] == device_id)
            for channel, count in enumerate(app.store.counts):
                state = current.get((device_id, channel))
                if state is None or (state.boot, state.seq, state.occupied) != (*last[1:], count):
                    result.current_wrong += 1

    def freshness(self) -> list[tuple[str, int, float, float]]:
        """How long each commit (superseded ones too) waited until the dial showed SAVED for it
        or for a newer one (seq never goes back, not even at a reboot), grouped by the fault
        going on meanwhile, if any: how far the map was behind the front desk."""
        saved = defaultdict(list)  # device -> [(seq, when saved)]
        for (device_id, _boot, seq), when in self.sent.saved_at.items():
            saved[device_id].append((seq, when))
        # A fault of the whole system lasts until it is seen working again: the first "saved"
        # any dial gets after the fault was over (an ingestor, say, takes a while to restart).
        every_save = sorted(self.sent.saved_at.values())
        windows = []
        for kind, hit, began, ended in self.windows:
            if hit is None:
                later = bisect.bisect_left(every_save, ended)
                ended = every_save[later] if later < len(every_save) else ended
            windows.append((kind, hit, began, ended))
        delays = defaultdict(list)
        for (device_id, _boot, seq), committed in self.sent.committed_at.items():
            caught_up = min(
                (when for later, when in saved[device_id] if later >= seq and when >= committed),
                default=None,
            )
            if caught_up is None:
                continue  # not saved in this run: then it is lost, which check() counts
            during = {
                (kind, hit)
                for kind, hit, began, ended in windows
                if committed <= ended and caught_up >= began and hit in (None, device_id)
            }
            # A dial that was itself cut off waited for that, whatever else happened meanwhile.
            own = {kind for kind, hit in during if hit == device_id}
            for what in own or {kind for kind, _hit in during} or {"no fault"}:
                delays[what].append(caught_up - committed)
        return [
            (what, len(delays[what]), percentile(delays[what], 50), max(delays[what]))
            for what in ("no fault", *FAULTS, BROKER_CRASH)
            if delays[what]
        ]


def count_readings(engine) -> int:
    """Readings stored so far (for progress lines; 0 while the database is restarting)."""
    try:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(Reading)).one()
    except DBAPIError:  # a progress line must not fail the run
        return 0


def run(config: Config, workdir: Path) -> Result:
    """Start Mosquitto and PostgreSQL, replay the day under faults, stop everything."""
    with Mosquitto(extra=config.broker_config) as broker, Postgres(durable=True) as postgres:
        return asyncio.run(Day(config, workdir).run(broker, postgres))
