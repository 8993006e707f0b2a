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
# Real dials never connect in the same millisecond, and neither do ours: the broker and the
# ingestor see a fleet arrive, not a burst of hundreds of CONNECTs and subscriptions. At
# 5 ms the demo's largest fleet (500, SIGNAL_DEMO_SITES) is connected in 4 s on 2 cores
# under a load average of 14 (the rest of the system runs meanwhile).
CONNECT_STAGGER_S = 0.005
# How long every dial together gets at a stop to say "offline" before it is cut off (then
# the broker sends its "lost" will). 500 dials took 0.3 s under that same load.
STOP_S = 5
CONFIG_POLL_S = 0.2  # how often first_counts looks for dials that got their config


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
        self._starting: asyncio.Task | None = None

    async def start(self) -> None:
        """Start the dials a few ms apart, in the background: return at once."""
        self._starting = asyncio.create_task(self._start_each())

    async def _start_each(self) -> None:
        for app in self.apps.values():
            self._tasks.append(asyncio.create_task(app.run()))
            await asyncio.sleep(CONNECT_STAGGER_S)

    async def stop(self) -> None:
        """Orderly shutdown: every dial says "offline" before it disconnects, within STOP_S."""
        if self._starting:
            self._starting.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        stopping = asyncio.gather(*(app.stop() for app in self.apps.values()))
        try:
            await asyncio.wait_for(stopping, STOP_S)
        except TimeoutError:
            log.warning("some simulated dials did not say offline within %s s", STOP_S)
        except Exception:  # one dial's broken link must not keep the others from stopping
            log.exception("a simulated dial failed to stop")

    async def first_counts(self, rng: random.Random) -> None:
        """A dial that has never counted starts, once it has its config, from a plausible
        evening count (70 to 100 % full) that its staff save at once."""
        waiting = [app for app in self.apps.values() if app.store.seq == 0]
        while waiting:
            await asyncio.sleep(CONFIG_POLL_S)
            for app in [app for app in waiting if app.config["version"]]:
                for channel, capacity in enumerate(app.dial.capacities):
                    app.dial.channel = channel
                    app.turn(round(capacity * rng.uniform(0.7, 1.0)))
                app.press()
            waiting = [app for app in waiting if not app.config["version"]]

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
