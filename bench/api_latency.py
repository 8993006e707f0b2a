"""API latency: GET /api/v1/shelters of the real app against a bare FastAPI app, in one run.

    .venv/bin/python -m bench.api_latency [--quick] [--sites 100] [--seconds 4] [--threads 4]

Both apps are served the way server/runner.py serves the real one: uvicorn.Config(app,
host, port, log_level="warning"), one process, asyncio loop, h11 (neither uvloop nor
httptools is installed). Each server runs in a spawned child process, so the client (here)
does not share its GIL; on 2 cores that is one core each.

- baseline: a bare FastAPI app whose one endpoint returns a small static JSON. It is a plain
  `def`, like the real route, so both pay FastAPI's threadpool hop.
- real: create_app() on a migrated SQLite database with `--sites` invented Toronto shelters
  (server/demo.seed; every tenth is confidential and left out of the list), each device
  having sent one state through the real ingest handler, so every program has a current
  reading.

Two client shapes, each for `--seconds`: one keep-alive httpx client in a loop (latency
percentiles), and `--threads` clients in parallel threads (throughput). Ratios real/bare.
httpx asks for gzip as browsers do, so the real app compresses its list (GZipMiddleware);
the bytes printed are the size before compression.

Both servers call gc.freeze() once the app is built, as `shelter-signal run` does after
start-up (server/runner.py): full garbage collections then skip the start-up heap.
--no-gc-freeze leaves it out, to show what that saves (docs/benchmarks.md).
"""

import gc
import os
import random
import tempfile
import threading
import time
import traceback

import httpx
import uvicorn
from fastapi import FastAPI
from sqlmodel import Session, select

from bench._common import (
    command_line,
    load,
    ms_percentiles,
    percentile,
    print_header,
    spawn_context,
    table,
)
from firmware.dialcore import protocol
from server.api.main import create_app
from server.db import make_engine, migrate
from server.demo import seed
from server.devices import config_message
from server.ingest.handler import handle
from server.models import Device
from server.settings import Settings
from tests.support.services import LOOPBACK, free_port, wait_for_port

SHELTERS = "/api/v1/shelters"
STATIC = "/static.json"


# --------------------------------------------------------------------------- servers


def bare_app() -> FastAPI:
    """The baseline: FastAPI with nothing behind it."""
    app = FastAPI()

    @app.get(STATIC)
    def static() -> dict:
        return {"status": "ok", "service": "bench", "items": [1, 2, 3]}

    return app


def serve(kind: str, port: int, database_url: str | None, freeze: bool) -> None:
    """Child process: serve one app until SIGTERM, with the runner's uvicorn settings."""
    try:
        if kind == "bare":
            app = bare_app()
        else:
            # A public rate limit (if this version has one) would answer 429 within a
            # second: set it so high that the limiter still runs but never refuses.
            # Settings ignores the two names on versions without a limiter.
            settings = Settings(
                _env_file=None,
                database_url=database_url,
                public_rate_per_minute=1e12,
                public_rate_burst=10**12,
            )
            app = create_app(settings, make_engine(database_url))
        if freeze:
            # As server/runner.py does: move everything alive after start-up out of the
            # collector's sight, so full collections stop walking the ~150k objects that
            # imports and the app create.
            gc.collect()
            gc.freeze()
        config = uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning")
        uvicorn.Server(config).run()
    except BaseException:
        traceback.print_exc()
        raise


def seed_city(database_url: str, sites: int) -> int:
    """Invented shelters with a current reading for every program; returns devices seeded."""
    migrate(database_url)
    engine = make_engine(database_url)
    rng = random.Random(2024)  # the same city every run
    with Session(engine) as session:
        seed(session, sites, rng)
        devices = list(session.exec(select(Device)))
        for device in devices:
            # Count against the capacities in the device's config, as a dial would.
            config = protocol.decode_config(config_message(session, device)[1])
            counts = [(rng.randint(0, cap), cap) for _label, cap in config["channels"]]
            state = protocol.encode_state(
                1, 1, "occupied", config["version"], counts, ts=int(time.time())
            )
            outcome = handle(session, protocol.topic(device.id, "state"), state, 4096)
            if outcome.reason:
                raise RuntimeError(f"seeding {device.id}: {outcome.reason}")
        session.commit()
    engine.dispose()
    return len(devices)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- clients


def sequential(base: str, path: str, seconds: float) -> dict:
    """One keep-alive client, one request at a time: latency of each request."""
    latencies = []
    with httpx.Client(base_url=base) as client:
        size = len(client.get(path).content)  # warm-up; also connects
        deadline = time.perf_counter() + seconds
        while (start := time.perf_counter()) < deadline:
            client.get(path).raise_for_status()
            latencies.append(time.perf_counter() - start)
    return {"requests": len(latencies), "latencies": latencies, "bytes": size}


def concurrent(base: str, path: str, seconds: float, threads: int) -> dict:
    """`threads` keep-alive clients in parallel: throughput when the server is kept busy."""
    counts = [0] * threads
    errors: list[BaseException] = []
    begin = threading.Barrier(threads + 1)
    deadline = 0.0

    def worker(number: int) -> None:
        try:
            with httpx.Client(base_url=base) as client:
                client.get(path).raise_for_status()  # warm-up; also connects
                begin.wait()
                while time.perf_counter() < deadline:
                    client.get(path).raise_for_status()
                    counts[number] += 1
        except BaseException as error:  # re-raised below, in the main thread
            errors.append(error)
            begin.abort()

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    deadline = time.perf_counter() + seconds + 1.0  # the warm-ups have up to 1 s
    begin.wait()
    start = time.perf_counter()
    deadline = start + seconds
    for thread in workers:
        thread.join()
    if errors:
        raise errors[0]
    return {"requests": sum(counts), "seconds": time.perf_counter() - start}


class Server:
    """One app served by uvicorn in a child process, and what the client measured on it."""

    def __init__(self, kind: str, path: str, database_url: str | None, freeze: bool):
        self.path = path
        self.port = free_port()
        self.base = f"http://{LOOPBACK}:{self.port}"
        server_args = (kind, self.port, database_url, freeze)
        self.child = spawn_context().Process(target=serve, args=server_args, daemon=True)
        self.latencies: list[float] = []  # one client, one request at a time
        self.bytes = 0
        self.seq_requests = self.par_requests = 0
        self.seq_cpu = self.par_seconds = self.par_cpu = 0.0  # seconds

    def start(self) -> None:
        self.child.start()
        wait_for_port(LOOPBACK, self.port, timeout=30)

    def stop(self) -> None:
        self.child.terminate()  # SIGTERM: uvicorn shuts down cleanly
        self.child.join(10)
        if self.child.is_alive():
            self.child.kill()

    def round(self, seconds: float, threads: int) -> None:
        """Both client shapes for `seconds` each, adding to the totals."""
        before = cpu_seconds(self.child.pid)
        seq = sequential(self.base, self.path, seconds)
        middle = cpu_seconds(self.child.pid)
        par = concurrent(self.base, self.path, seconds, threads)
        after = cpu_seconds(self.child.pid)
        self.bytes = seq["bytes"]
        self.latencies += seq["latencies"]
        self.seq_requests += seq["requests"]
        self.seq_cpu += middle - before
        self.par_requests += par["requests"]
        self.par_seconds += par["seconds"]
        self.par_cpu += after - middle

    @property
    def seq_rate(self) -> float:
        return self.seq_requests / sum(self.latencies)

    @property
    def par_rate(self) -> float:
        return self.par_requests / self.par_seconds


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = command_line(__package__, __doc__, "smoke run: 0.5 s per measurement")
    parser.add_argument("--sites", type=int, default=100, help="invented shelters (max 500)")
    parser.add_argument("--seconds", type=float, default=4.0, help="per client shape and app")
    parser.add_argument("--rounds", type=int, default=4, help="bare/real alternations")
    parser.add_argument("--threads", type=int, default=4, help="parallel clients")
    parser.add_argument(
        "--no-gc-freeze",
        dest="gc_freeze",
        action="store_false",
        help="leave out the gc.freeze() that `shelter-signal run` does after start-up",
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds = 0.5, 1

    print_header(args.quick)
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        database_url = f"sqlite:///{tmp}/bench.db"
        devices = seed_city(database_url, args.sites)
        print(
            f"{args.sites} sites ({devices} devices, each with a current reading); "
            f"{args.seconds:g} s per client shape and app in {args.rounds} interleaved rounds; "
            f"{args.threads} threads in parallel; "
            f"gc.freeze() {'on (as shipped)' if args.gc_freeze else 'off'}\n"
        )
        bare = Server("bare", STATIC, None, args.gc_freeze)
        real = Server("real", SHELTERS, database_url, args.gc_freeze)
        for server in (bare, real):
            server.start()
        try:
            # Bare, real, bare, real...: a neighbour that loads the machine for a while
            # slows both sides alike, so the ratios hold better than the absolute numbers.
            for _ in range(args.rounds):
                for server in (bare, real):
                    server.round(args.seconds / args.rounds, args.threads)
        finally:
            for server in (bare, real):
                server.stop()
        print(f"Load average after: {load()}\n")

    rows = [
        [
            name,
            f"{server.bytes:,}",
            f"{server.seq_rate:.0f}",
            ms_percentiles(server.latencies),
            f"{server.seq_cpu / sum(server.latencies):.0%}",
            f"{server.par_rate:.0f}",
            f"{server.par_cpu / server.par_seconds:.0%}",
        ]
        for name, server in ((f"bare FastAPI GET {STATIC}", bare), (f"real GET {SHELTERS}", real))
    ]
    headers = ["endpoint", "bytes", "1 client req/s", "ms p50/p90/p99/max", "server CPU"]
    headers += [f"{args.threads} threads req/s", "server CPU"]
    print(table(headers, rows))
    p50_ratio = percentile(real.latencies, 50) / percentile(bare.latencies, 50)
    print("\nRatios real/bare (same run):")
    print(f"  requests/s, 1 client   = {real.seq_rate / bare.seq_rate:.3f}")
    print(f"  requests/s, {args.threads} threads  = {real.par_rate / bare.par_rate:.3f}")
    print(f"  p50 latency, 1 client  = {p50_ratio:.1f}x")


if __name__ == "__main__":
    main()
