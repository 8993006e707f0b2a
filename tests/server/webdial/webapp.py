"""The API served for web dial tests; web dials to try it with; and a way to take the
ingestor away for a while.

Tests build their own app (create_app plus the broker's address, as server/runner.py does),
served by uvicorn on the event loop of a tests/support/stack.py Stack (which runs the real
ingestor), so they can restart the API without restarting the rest.
"""

import asyncio
import contextlib
import uuid

import uvicorn
from sqlmodel import Session

from server.api.main import create_app
from server.credentials import hash_secret, new_secret
from server.devices import register
from server.ingest.client import Ingestor
from server.models import Device, Program, Sector, Site
from tests.support.services import free_port
from tests.support.stack import Stack
from tests.support.waiting import scaled


class WebApp:
    """The API, served on `url` until stop()."""

    def __init__(self, stack: Stack, mqtt_url: str | None = None):
        app = create_app(stack.system.settings, stack.system.engine)
        app.state.mqtt_url = mqtt_url or stack.mqtt_url
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.stack = stack
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )

        async def start():
            task = asyncio.create_task(self.server.serve())
            while not self.server.started:
                if task.done():
                    task.result()  # raises why it could not start
                await asyncio.sleep(0.02)
            return task

        self._task = stack.call(start())

    def stop(self) -> None:
        async def stop():
            self.server.should_exit = True
            await self._task

        self.stack.call(stop())


class Dials:
    """Registers dials with a site of their own: add() returns (device_id, secret)."""

    def __init__(self, stack: Stack):
        self.stack = stack

    def add(
        self, capacities=(20,), mode="occupied", prefix="web-", secret: str | None = None
    ) -> tuple[str, str]:
        device_id = f"{prefix}{uuid.uuid4().hex[:8]}"
        secret = secret or new_secret()
        with Session(self.stack.system.engine) as session:
            site = Site(name=f"House {device_id}", address="2 Test St", lat=43.7, lon=-79.4)
            session.add(site)
            session.flush()
            channels = []
            for number, capacity in enumerate(capacities):
                program = Program(
                    site_id=site.id, name=f"Beds {number}", sector=Sector.men, capacity=capacity
                )
                session.add(program)
                session.flush()
                channels.append((program.id, f"Room {number + 1}"))
            register(session, device_id, site.id, channels, mode)
            session.get(Device, device_id).secret_hash = hash_secret(secret)
            session.commit()
        return device_id, secret


@contextlib.contextmanager
def ingestor_down(stack: Stack):
    """No ingestor inside the block; then one with the same client id, whose persistent
    session finds what was sent meanwhile waiting in the broker."""
    system, settings = stack.system, stack.system.settings
    system.ingestor.stop()
    try:
        yield
    finally:
        system.ingestor = Ingestor(
            system.engine, system.mqtt_url, settings.ingest_client_id, settings.max_payload_bytes
        )
        system.ingestor.start()
        assert system.ingestor.connected.wait(scaled(10)), "ingestor did not reconnect"
