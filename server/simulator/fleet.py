"""Many simulated dials in one process, for the demo and for load tests.

Each is the firmware's App with its own Store file and HostTransport: what the server
sees from them is byte for byte what a real dial sends.
"""

import asyncio
import contextlib
import logging
import random
from pathlib import Path

from firmware.dialcore.app import App
from firmware.dialcore.clock import unix_time
from firmware.dialcore.store import Store
from server.simulator.host_transport import HostTransport

log = logging.getLogger(__name__)
CONNECT_STAGGER_S = 0.02


class Fleet:
    def __init__(self, url: str, device_ids: list[str], state_dir: Path, settle_ms: int = 1000):
        state_dir.mkdir(parents=True, exist_ok=True)
        self.apps = {
            device_id: App(
                device_id,
                Store(str(state_dir / f"{device_id}.json")),
                HostTransport(url, client_id=device_id),
                settle_ms=settle_ms,
                unix_time=unix_time,
            )
            for device_id in device_ids
        }
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        for app in self.apps.values():
            self._tasks.append(asyncio.create_task(app.run()))
            # Real dials never connect in the same millisecond; the embedded broker (amqtt
            # 0.12) can fail a connection when dozens arrive at once, so neither do ours.
            await asyncio.sleep(CONNECT_STAGGER_S)

    async def stop(self) -> None:
        """Orderly shutdown: every dial says "offline" before it disconnects."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await asyncio.gather(*(app.stop() for app in self.apps.values()), return_exceptions=True)

    async def wait_configured(self, timeout: float = 10) -> None:
        """Wait until every dial has received its config from the server."""
        async with asyncio.timeout(timeout):
            while any(app.config["version"] == 0 for app in self.apps.values()):
                await asyncio.sleep(0.05)

    async def staff(self, interval: float, rng: random.Random) -> None:
        """Pretend to be front-desk staff: now and then someone turns a dial a few clicks."""
        apps = list(self.apps.values())
        while True:
            await asyncio.sleep(rng.expovariate(1 / interval))
            app = rng.choice(apps)
            if app.config["version"] == 0:
                continue  # not configured yet: the real dial would show "ready" and wait too
            app.turn(rng.choice((-3, -2, -1, -1, 1, 1, 2, 3)))
            if rng.random() < 0.3:
                app.press()  # some staff press to save at once instead of waiting
