"""The whole system, started in a background thread the way `shelter-signal run` starts it.

Tests drive it from the main thread: they seed the database, run simulated dials on the
system's own event loop (`stack.call`) and look at it through HTTP and a browser.
"""

import asyncio
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from sqlmodel import Session

from firmware.dialcore.app import App
from firmware.dialcore.store import Store
from server import mqtt_url
from server.ingest.client import Ingestor
from server.models import Device, DeviceChannel, Program, Sector, Site
from server.runner import System
from server.settings import Settings
from server.simulator.host_transport import HostTransport
from tests.support.services import free_port
from tests.support.waiting import scaled


def settings_for(database_url: str, mqtt_url: str | None) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        mqtt_url=mqtt_url,
        broker_port=free_port(),
        http_port=free_port(),
        ingest_client_id=f"ingest-{uuid.uuid4().hex[:8]}",
        live_poll_seconds=0.1,
    )


def add_paired_site(
    session: Session, device_id: str, capacity: int = 20, name: str = "Test House"
) -> int:
    """Add a site with one men's program, counted on channel 0 of a new device `device_id`;
    return the site's id. The caller commits (the benchmarks add many in one transaction)."""
    site = Site(name=name, address="1 Test St", lat=43.70, lon=-79.40, phone="416-555-0100")
    session.add(site)
    session.flush()
    program = Program(site_id=site.id, name="Beds", sector=Sector.men, capacity=capacity)
    session.add(program)
    session.add(Device(id=device_id, site_id=site.id))
    session.flush()
    session.add(DeviceChannel(device_id=device_id, channel=0, program_id=program.id, label="Beds"))
    return site.id


def start_subscribed(ingestor: Ingestor) -> None:
    """Start `ingestor`; return once the broker has confirmed its subscription: the ingestor
    sets `connected` at the SUBACK (or at once when the broker kept its session), so a
    message published after this reaches it."""
    ingestor.start()
    assert ingestor.connected.wait(scaled(10)), "the ingestor did not subscribe"


class Stack:
    def __init__(self, settings: Settings):
        self.system = System(settings, parts=("ingest", "web"))
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> "Stack":
        self._thread.start()
        self.call(self.system.start())
        assert self.system.ingestor.connected.wait(scaled(10)), "ingestor did not connect"
        return self

    def __exit__(self, *_exc) -> None:
        self.call(self.system.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(scaled(10))

    def call(self, coro, timeout: float = 30):
        """Run a coroutine on the system's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(scaled(timeout))

    def do(self, fn, *args):
        """Run a plain function on the system's loop (App is single-threaded, like the device)."""

        async def call():
            return fn(*args)

        return self.call(call())

    @property
    def mqtt_url(self) -> str:
        return self.system.mqtt_url

    @property
    def http(self) -> str:
        return self.system.map_url.rstrip("/")

    def add_site(self, device_id: str, capacity: int = 20, name: str = "Test House") -> int:
        """One site, one program, one paired device (the ingestor sends its config)."""
        with Session(self.system.engine) as session:
            site_id = add_paired_site(session, device_id, capacity, name)
            session.commit()
        return site_id

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Publish one QoS 1 message to the system's broker from a client of its own: what a
        misbehaving device or a stranger might send."""
        host, port = mqtt_url.parse(self.mqtt_url)
        client_id = f"raw-{uuid.uuid4().hex[:6]}"
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        client.connect(host, port)
        client.loop_start()
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(scaled(5))
        client.disconnect()
        client.loop_stop()

    def start_dial(self, device_id: str, state_dir: Path, settle_ms: int = 300) -> App:
        async def start():
            store = Store(str(state_dir / f"{device_id}.json"))
            app = App(
                device_id, store, HostTransport(self.mqtt_url, device_id), settle_ms=settle_ms
            )
            app.task = asyncio.create_task(app.run())
            return app

        return self.call(start())

    def stop_dial(self, app: App) -> None:
        async def stop():
            app.task.cancel()
            await app.stop()

        self.call(stop())
