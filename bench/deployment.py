"""Shelter Signal as production runs it, for the benchmarks that measure the whole path.

Mosquitto configured as deploy/mosquitto/shelter-signal.conf is for speed
(bench/_common.BROKER_CONFIG), a throwaway PostgreSQL with synchronous commits (as production;
fsync off, as every harness cluster), and
`shelter-signal ingest` and `shelter-signal serve` each in a process of its own, configured
only through SIGNAL_* variables like a systemd unit would.
"""

import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, col, select

from bench._common import BROKER_CONFIG
from server.db import make_engine, migrate
from server.models import Device
from tests.support.services import LOOPBACK, Mosquitto, Postgres, free_port, wait_for_port

START_TIMEOUT_S = 180  # the ingestor publishes every dial's config (5,000: ~1 min)


def raise_open_files() -> int:
    """Lift this process's open-file limit to the hard limit, for itself and the processes it
    starts (Mosquitto needs one descriptor per connected device); returns the new limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Deployment:
    """Broker, database, ingestor and API; `seed(session)` fills the database before the
    ingestor starts. `env` adds SIGNAL_* settings for both processes."""

    def __init__(self, seed: Callable[[Session], None], env: dict[str, str] | None = None):
        self.seed = seed
        self.env = env or {}
        self.dir = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
        self.broker = Mosquitto(BROKER_CONFIG)
        self.database = Postgres(durable=True)  # synchronous commits, as production
        self.http_port = free_port()
        self.api_url = f"http://{LOOPBACK}:{self.http_port}"
        self.processes: list[subprocess.Popen] = []
        self.engine = None

    def __enter__(self) -> "Deployment":
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self) -> None:
        self.broker.start()
        self.database.start()
        migrate(self.database.url)
        self.engine = make_engine(self.database.url)
        with Session(self.engine) as session:
            self.seed(session)
            session.commit()
        env = {
            **os.environ,
            "SIGNAL_DATABASE_URL": self.database.url,
            "SIGNAL_MQTT_URL": self.broker.url,
            "SIGNAL_HTTP_PORT": str(self.http_port),
            "SIGNAL_INGEST_CLIENT_ID": "bench-ingest",
            **self.env,
        }
        for part in ("ingest", "serve"):
            self._run(part, env)
        wait_for_port(LOOPBACK, self.http_port, timeout=START_TIMEOUT_S)
        self._wait_for_configs()

    def _run(self, part: str, env: dict[str, str]) -> None:
        # cwd: a directory without a .env, so only the variables above configure it
        with open(self.dir / f"{part}.log", "wb") as log:
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "server", part],
                    env=env,
                    cwd=self.dir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def _wait_for_configs(self) -> None:
        """Ready when the ingestor has published every dial's config (it does on connect)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        unpublished = select(func.count(Device.id)).where(
            col(Device.published_config_version).is_(None)
        )
        while time.monotonic() < deadline:
            with Session(self.engine) as session:
                if session.exec(unpublished).one() == 0:
                    return
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.args} exited:\n{self.logs()}")
            time.sleep(0.2)
        raise RuntimeError(f"the ingestor did not publish every config:\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-3000:]}" for path in self.dir.glob("*.log")
        )

    def pids(self) -> dict[str, int]:
        """Process ids of the ingestor and the API, for CPU accounting."""
        return {"ingest": self.processes[0].pid, "api": self.processes[1].pid}

    def __exit__(self, *_exc) -> None:
        for process in self.processes:
            process.terminate()  # SIGTERM: `shelter-signal` stops its parts in order
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.engine is not None:
            self.engine.dispose()
        self.database.stop()
        self.broker.close()
        for path in self.dir.glob("*"):
            path.unlink()
        self.dir.rmdir()
