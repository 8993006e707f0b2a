"""`shelter-signal run`: broker, ingestor, API, map and demo dials in one process."""

import asyncio
import contextlib
import errno
import gc
import random
import secrets
import signal
import socket
from pathlib import Path

import uvicorn
from pydantic import SecretStr
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from server import metrics, mqtt_url
from server.api.main import create_app
from server.broker import EmbeddedBroker
from server.db import make_engine, migrate
from server.demo import WEB_DIAL, WEB_DIAL_SECRET, seed
from server.ingest.client import Ingestor
from server.settings import Settings
from server.simulator.fleet import Fleet

GRACEFUL_STOP_S = 5  # open requests get this long to finish at a stop (Ctrl-C, systemctl stop)
STATE_DIR = Path("var/sim")  # where simulated dials keep their flash (a file each)
DEMO_KEY_BYTES = 32  # of randomness in the demo's admin key, as docs/operations.md advises


class PortInUse(Exception):
    """A port a part must listen on is taken: the message names it and the setting to change."""


def listen(host: str, port: int, setting: str, hint: str = "") -> socket.socket:
    """A socket listening on host:port, or PortInUse naming the setting that chose the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as e:
        if e.errno != errno.EADDRINUSE:
            raise
        raise PortInUse(
            f"port {port} on {host} is already in use: something else listens there. "
            f"Stop it, or set {setting} to a free port{hint}."
        ) from None


def _check_free(host: str, port: int, setting: str, hint: str = "") -> None:
    """PortInUse now, before a part that binds by itself (the broker, the metrics server)
    fails on the port with a traceback of its own."""
    listen(host, port, setting, hint).close()


class _Server(uvicorn.Server):
    """uvicorn that leaves Ctrl-C to us, so we can stop the other parts in order."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


class System:
    """The parts of Shelter Signal in one asyncio loop: `run` starts them all, `serve`,
    `ingest` and `broker` one each, and the tests start them the same way."""

    def __init__(self, settings: Settings, parts=("ingest", "web"), state_dir: Path = STATE_DIR):
        self.settings = settings
        self.parts = set(parts)
        self.state_dir = state_dir
        self.rng = random.Random(2024)  # the same invented city at every start
        self.mqtt_url = settings.mqtt_url
        self.engine: Engine | None = None  # when a part needs the database
        self.broker: EmbeddedBroker | None = None
        self.ingestor: Ingestor | None = None
        self.ingest_metrics = None  # the ingestor's metrics server, when it has a port
        self.web: _Server | None = None
        self.fleet: Fleet | None = None
        self._web_socket: socket.socket | None = None  # bound at the start, before any part runs
        self._web_task: asyncio.Task | None = None
        self._staff_task: asyncio.Future | None = None
        self.demo_admin_key: str | None = None  # made up at start when the demo has none

    @property
    def map_url(self) -> str:
        return f"http://{self.settings.http_host}:{self.settings.http_port}/"

    async def start(self) -> None:
        settings = self.settings
        # `broker` alone always starts one; with other parts, only when SIGNAL_MQTT_URL names none
        embedded = self.parts == {"broker"} or (
            self.mqtt_url is None and bool(self.parts & {"broker", "ingest", "demo"})
        )
        metrics_port = settings.ingest_metrics_port if "ingest" in self.parts else None
        # Every port first: a taken one stops the start before any part runs.
        if embedded:
            hint = ", or set SIGNAL_MQTT_URL to use the broker already running there"
            _check_free(settings.broker_host, settings.broker_port, "SIGNAL_BROKER_PORT", hint)
        if metrics_port:
            _check_free(settings.ingest_metrics_host, metrics_port, "SIGNAL_INGEST_METRICS_PORT")
        if "web" in self.parts:
            self._web_socket = listen(settings.http_host, settings.http_port, "SIGNAL_HTTP_PORT")
        if embedded:
            self.broker = EmbeddedBroker(settings.broker_host, settings.broker_port)
            await self.broker.start()
            self.mqtt_url = self.broker.url
        if self.parts & {"ingest", "web", "demo"}:
            migrate(settings.database_url)
            self.engine = make_engine(settings.database_url)
        if "demo" in self.parts:
            with Session(self.engine) as session:
                device_ids = seed(session, settings.demo_sites, self.rng)
            if settings.admin_api_key is None:  # so a newcomer can try pairing a dial at once
                self.demo_admin_key = secrets.token_urlsafe(DEMO_KEY_BYTES)
                key = SecretStr(self.demo_admin_key)
                self.settings = settings = settings.model_copy(update={"admin_api_key": key})
        if "ingest" in self.parts:
            self.ingestor = Ingestor(
                self.engine,
                self.mqtt_url,
                settings.ingest_client_id,
                settings.max_payload_bytes,
                batch_size=settings.ingest_batch_size,
                shared_group=settings.ingest_shared_group,
                ca_file=settings.mqtt_ca_file,
                zone=settings.zone,
            )
            self.ingestor.start()
            if metrics_port:
                self.ingest_metrics = metrics.serve_ingest_metrics(
                    settings.ingest_metrics_host, settings.ingest_metrics_port
                )
        if "web" in self.parts:
            await self._start_web()
        if "demo" in self.parts:
            await self._start_demo(device_ids)

    async def _start_web(self) -> None:
        app = create_app(self.settings, self.engine)
        app.state.mqtt_url = self.mqtt_url  # the web dial sends through this broker
        if self.ingestor:  # one process: its /metrics shows the ingestor's too
            app.state.metrics = metrics.combined(metrics.API, metrics.INGEST)
        self.web = _Server(
            uvicorn.Config(
                app,
                host=self.settings.http_host,
                port=self.settings.http_port,
                log_level="warning",
                # uvicorn waits for open requests at a stop; stop() ends the event streams
                # first, and whatever is still open after this is cut, so a stop never hangs.
                timeout_graceful_shutdown=GRACEFUL_STOP_S,
            )
        )
        serve = self.web.serve(sockets=[self._web_socket])
        self._web_task = web = asyncio.create_task(serve)
        while not self.web.started:
            if web.done():
                web.result()  # raises why the web server could not start (port in use...)
            await asyncio.sleep(0.05)

    async def _start_demo(self, device_ids: list[str]) -> None:
        self.fleet = fleet = Fleet(self.mqtt_url, device_ids, self.state_dir)
        await fleet.start()  # connects the dials in the background: 500 take seconds
        staff = fleet.staff(self.settings.demo_interval_seconds, self.rng)
        self._staff_task = asyncio.gather(fleet.first_counts(self.rng), staff)

    async def stop(self) -> None:
        """Stop in the reverse order of start: dials first, the broker last."""
        if self._staff_task:
            self._staff_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._staff_task
        if self.fleet:
            await self.fleet.stop()
        if self.web:
            self.web.config.app.state.broadcaster.end_streams()  # else open maps hold the stop up
            self.web.should_exit = True  # uvicorn finishes open requests, then returns
            await self._web_task
        if self.ingestor:
            self.ingestor.stop()
        if self.ingest_metrics:
            self.ingest_metrics.shutdown()
            self.ingest_metrics.server_close()
        if self.engine:
            self.engine.dispose()
        if self.broker:
            await self.broker.stop()


def stop_signals() -> asyncio.Event:
    """An event that Ctrl-C or SIGTERM sets from now on: register before saying "Ctrl-C
    stops", or a quick Ctrl-C ends in a traceback instead of an orderly stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def until_stopped(stop: asyncio.Event) -> None:
    """Return once `stop` is set (then the caller stops its parts in order)."""
    await stop.wait()
    print("Stopping...", flush=True)


async def run(settings: Settings, parts, state_dir: Path = STATE_DIR) -> None:
    """Start `parts`, say where to find them, run until Ctrl-C, stop them in order."""
    system = System(settings, parts, state_dir)
    await system.start()
    # What is alive now lives until the end: keep it out of every garbage collection, which
    # otherwise walks it all, ~60 ms every ~60 requests (docs/benchmarks.md).
    gc.collect()
    gc.freeze()
    stop = stop_signals()
    if system.broker:
        print(f"MQTT broker: {mqtt_url.redact(system.mqtt_url)}")
    if system.ingestor:
        database = make_url(settings.database_url).render_as_string(hide_password=True)
        print(f"Ingesting from {mqtt_url.redact(system.mqtt_url)} into {database}")
    if system.ingest_metrics:
        host, port = settings.ingest_metrics_host, settings.ingest_metrics_port
        print(f"Ingest metrics: http://{host}:{port}/metrics")
    if system.web:
        print(f"\nShelter Signal is running. Map: {system.map_url}")
        print(f"API docs: {system.map_url}docs")
    if system.demo_admin_key:
        print(f"Admin key: {system.demo_admin_key}   (DEMO ONLY: a new one at every start;")
        print("  set SIGNAL_ADMIN_API_KEY for a real server, docs/operations.md)")
    if system.fleet:
        print(f"Web dial: {system.map_url}dial/{WEB_DIAL}   (demo secret: {WEB_DIAL_SECRET})")
    print("Ctrl-C stops.\n", flush=True)
    await until_stopped(stop)
    await system.stop()
