"""`shelter-signal run`: broker, ingestor, API, map and demo dials in one process."""

import asyncio
import contextlib
import random
import signal
from pathlib import Path

import uvicorn
from sqlmodel import Session

from server.api.main import create_app
from server.broker import EmbeddedBroker
from server.db import make_engine, migrate
from server.demo import seed
from server.ingest.client import Ingestor
from server.settings import Settings
from server.simulator.fleet import Fleet


class _Server(uvicorn.Server):
    """uvicorn that leaves Ctrl-C to us, so we can stop the other parts in order."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


class System:
    """Every part of Shelter Signal in one asyncio loop; the tests start it the same way."""

    def __init__(self, settings: Settings, demo: bool = False, state_dir: Path = Path("var/sim")):
        self.settings = settings
        self.demo = demo
        self.state_dir = state_dir
        self.rng = random.Random(2024)  # the same invented city at every start
        self.broker: EmbeddedBroker | None = None
        self.fleet: Fleet | None = None
        self._tasks: list[asyncio.Task] = []

    @property
    def map_url(self) -> str:
        return f"http://{self.settings.http_host}:{self.settings.http_port}/"

    async def start(self) -> None:
        settings = self.settings
        self.mqtt_url = settings.mqtt_url
        if self.mqtt_url is None:
            self.broker = EmbeddedBroker(settings.broker_host, settings.broker_port)
            await self.broker.start()
            self.mqtt_url = self.broker.url
        migrate(settings.database_url)
        self.engine = make_engine(settings.database_url)
        if self.demo:
            with Session(self.engine) as session:
                device_ids = seed(session, settings.demo_sites, self.rng)
        self.ingestor = Ingestor(
            self.engine, self.mqtt_url, settings.ingest_client_id, settings.max_payload_bytes
        )
        self.ingestor.start()
        self.web = _Server(
            uvicorn.Config(
                create_app(settings, self.engine),
                host=settings.http_host,
                port=settings.http_port,
                log_level="warning",
            )
        )
        web = asyncio.create_task(self.web.serve())
        self._tasks.append(web)
        while not self.web.started:
            if web.done():
                web.result()  # raises why the web server could not start (port in use...)
            await asyncio.sleep(0.05)
        if self.demo:
            await self._start_demo(device_ids)

    async def _start_demo(self, device_ids: list[str]) -> None:
        self.fleet = fleet = Fleet(self.mqtt_url, device_ids, self.state_dir)
        await fleet.start()
        await fleet.wait_configured()
        for app in fleet.apps.values():
            if app.store.seq == 0:  # first run: start from a plausible evening count
                for channel, capacity in enumerate(app.dial.capacities):
                    app.dial.channel = channel
                    app.turn(round(capacity * self.rng.uniform(0.7, 1.0)))
                app.press()
        staff = fleet.staff(self.settings.demo_interval_seconds, self.rng)
        self._tasks.append(asyncio.create_task(staff))

    async def stop(self) -> None:
        if self.fleet:
            await self.fleet.stop()
        self.web.should_exit = True
        for task in self._tasks:
            if task is not self._tasks[0]:
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.ingestor.stop()
        self.engine.dispose()
        if self.broker:
            await self.broker.stop()


async def serve(settings: Settings, demo: bool, state_dir: Path) -> None:
    """Run until Ctrl-C or SIGTERM, then stop every part in order."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    system = System(settings, demo, state_dir)
    await system.start()
    print(f"\nShelter Signal is running. Map: {system.map_url}")
    print(f"API docs: {system.map_url}docs   (Ctrl-C stops)\n", flush=True)
    await stop.wait()
    print("Stopping...", flush=True)
    await system.stop()
