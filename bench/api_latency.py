"""API: GET /api/v1/shelters of the real app against a bare endpoint sending the same bytes.

    .venv/bin/python -m bench.api_latency [--quick] [--programs 1000] [--connections 64]
        [--processes 1] [--seconds 12] [--rounds 4] [--commit-every 1]

The load comes from wrk (Debian package `wrk`, C, epoll): --connections keep-alive
connections over 2 threads, each sending `Accept-Encoding: gzip` as browsers and the map do.

Both apps are served the way server/runner.py serves the real one: uvicorn.Config(app,
host, port, log_level="warning"), asyncio loop, h11 (neither uvloop nor httptools is
installed), gc.freeze() after start-up, each in a spawned child process. --processes N
runs N such processes per app on one port (SO_REUSEPORT: the kernel spreads connections over
them), as several API processes behind a reverse proxy would share the load.

- bare: FastAPI() with one `async def` endpoint (as the real route is) that returns, from
  memory, the exact bytes and headers the real app sent for the list just before the run:
  the ceiling of this server stack for this response.
- real: create_app() on a migrated SQLite database with invented Toronto shelters
  (server/demo.seed; every tenth confidential, so left out of the public list) adding up to
  about --programs programs, each with a current reading sent through the real ingest handler.

The two alternate, bare, real, bare, real... in --rounds rounds, so a neighbour loading the
machine for a while slows both alike. During each real round the benchmark commits a new
reading every second and checks that the very next response shows it: a fast answer that is
stale would be worthless.
"""

import gc
import gzip
import json
import random
import re
import socket
import subprocess
import tempfile
import threading
import time
import traceback

import httpx
import uvicorn
from fastapi import FastAPI, Response
from sqlmodel import Session, select

from bench._common import command_line, cpu_seconds, load, print_header, spawn_context, table
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
PROGRAMS_PER_SITE = 4 / 3  # server.demo gives a site 1, 1 or 2 programs
# How often a real round commits a reading and checks the next response shows it: a city of
# 1,000 programs whose staff turn a dial every 15 minutes or so commits about once a second.
# (--commit-every 0: none, to see what the kept answer alone costs.)
CHECK_EVERY_S = 1.0
KEPT_HEADERS = ("content-type", "content-encoding", "etag", "vary")  # what bare sends back


# --------------------------------------------------------------------------- servers


def bare_app(body: bytes, headers: dict[str, str]) -> FastAPI:
    """The baseline: FastAPI with nothing behind it, sending the real list's bytes."""
    app = FastAPI()

    @app.get(SHELTERS)
    async def shelters() -> Response:
        return Response(body, headers=headers)

    return app


def serve(kind: str, port: int, database_url: str, sample: tuple | None) -> None:
    """Child process: serve one app until SIGTERM, with the runner's uvicorn settings."""
    try:
        if kind == "bare":
            app = bare_app(*sample)
        else:
            # The public rate limit would answer 429 within a second: set it so high that
            # the limiter still runs but never refuses.
            settings = Settings(
                _env_file=None,
                database_url=database_url,
                public_rate_per_minute=1e12,
                public_rate_burst=10**12,
            )
            app = create_app(settings, make_engine(database_url))
        # As server/runner.py does after start-up: full collections skip the start-up heap.
        gc.collect()
        gc.freeze()
        # SO_REUSEPORT: several processes listen on one port and the kernel spreads the
        # connections over them. IPPROTO_TCP named, not left 0: asyncio sets TCP_NODELAY only
        # on sockets whose proto says TCP, and without it every response waits ~40 ms for a
        # delayed ACK (Nagle's algorithm holds the body back behind the headers).
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind((LOOPBACK, port))
        config = uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning")
        uvicorn.Server(config).run(sockets=[listener])
    except BaseException:
        traceback.print_exc()
        raise


class Servers:
    """One app served by `processes` uvicorn processes sharing a port."""

    def __init__(self, kind: str, processes: int, database_url: str, sample: tuple | None = None):
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}{SHELTERS}"
        args = (kind, self.port, database_url, sample)
        context = spawn_context()
        self.children = [
            context.Process(target=serve, args=args, daemon=True) for _ in range(processes)
        ]
        self.rounds: list[dict] = []  # wrk's results, one per round

    def __enter__(self) -> "Servers":
        for child in self.children:
            child.start()
        wait_for_port(LOOPBACK, self.port, timeout=60)
        time.sleep(0.5 * len(self.children))  # the others bind moments after the first
        return self

    def __exit__(self, *_exc) -> None:
        for child in self.children:
            child.terminate()  # SIGTERM: uvicorn shuts down cleanly
        for child in self.children:
            child.join(10)
            if child.is_alive():
                child.kill()

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server processes so far (Linux /proc)."""
        return sum(cpu_seconds(child.pid) for child in self.children)


# --------------------------------------------------------------------------- data


def seed_city(database_url: str, programs: int) -> list[tuple[str, list[int]]]:
    """Invented shelters with a current reading for every program; returns each device's id
    and capacities (what a check sends a new reading against)."""
    migrate(database_url)
    engine = make_engine(database_url)
    rng = random.Random(2024)  # the same city every run
    dials = []
    with Session(engine) as session:
        seed(session, round(programs / PROGRAMS_PER_SITE), rng)
        for device in session.exec(select(Device)):
            # Count against the capacities in the device's config, as a dial would.
            config = protocol.decode_config(config_message(session, device)[1])
            capacities = [cap for _label, cap in config["channels"]]
            commit_reading(session, device.id, 1, [rng.randint(0, c) for c in capacities], config)
            dials.append((device.id, capacities))
        session.commit()
    engine.dispose()
    return dials


def commit_reading(session: Session, device_id: str, seq: int, counts: list[int], config) -> None:
    """A state through the real ingest handler, as the ingestor would store it."""
    pairs = list(zip(counts, [c for _label, c in config["channels"]], strict=True))
    state = protocol.encode_state(1, seq, "occupied", config["version"], pairs, ts=int(time.time()))
    outcome = handle(session, protocol.topic(device_id, "state"), state, 4096)
    if outcome.reason:
        raise RuntimeError(f"{device_id}: {outcome.reason}")


class Checker:
    """Commits a new count on one public dial every `every` seconds while wrk runs, and
    checks that the next GET shows it (a fresh connection, no gzip: what any client would
    see). Every 0: it does nothing."""

    def __init__(self, database_url: str, url: str, every: float):
        self.every = every
        self.engine = make_engine(database_url)
        self.url = url
        self.checks = self.stale = 0
        self.seq = 1
        with Session(self.engine) as session:
            listed = {p["site_id"] for s in httpx.get(url).json()["items"] for p in s["programs"]}
            self.device = next(
                d for d in session.exec(select(Device)) if d.site_id in listed and d.site_id
            )
            self.config = protocol.decode_config(config_message(session, self.device)[1])

    def __enter__(self) -> "Checker":
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        # One check as the round starts, then one every `every` s: a round shorter than
        # `every` (--quick, a loaded machine) still checks once
        while self.every:
            self._check()
            if self._stop.wait(self.every):
                return

    def _check(self) -> None:
        self.seq += 1
        capacity = self.config["channels"][0][1]
        count = self.seq % (capacity + 1)
        counts = [count] + [0] * (len(self.config["channels"]) - 1)
        with Session(self.engine) as session:
            commit_reading(session, self.device.id, self.seq, counts, self.config)
            session.commit()
        site = next(
            s for s in httpx.get(self.url).json()["items"] if s["id"] == self.device.site_id
        )
        self.checks += 1
        self.stale += site["programs"][0]["occupied"] != count


# --------------------------------------------------------------------------- load


def raw_get(url: str) -> tuple[bytes, dict[str, str]]:
    """The bytes and headers a client asking for gzip gets, as sent (still gzipped)."""
    with httpx.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as response:
        response.raise_for_status()
        body = b"".join(response.iter_raw())
        return body, {k: v for k, v in response.headers.items() if k in KEPT_HEADERS}


WRK_LATENCY = re.compile(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, connections: int, seconds: float) -> dict:
    """Run wrk; return requests, seconds and latency percentiles in ms."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    command += ["-H", "Accept-Encoding: gzip", url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    took = re.search(r"requests in ([\d.]+)(ms|s|m),", out)
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0}[took.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    if errors:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    latency = {int(p): float(v) * UNITS[u] for p, v, u in WRK_LATENCY.findall(out)}
    return {"requests": requests, "seconds": float(took.group(1)) * scale, "ms": latency}


def measure(servers: Servers, connections: int, seconds: float) -> None:
    before = servers.cpu_seconds()
    result = wrk(servers.url, connections, seconds)
    result["cpu"] = (servers.cpu_seconds() - before) / result["seconds"]
    servers.rounds.append(result)


def summary(servers: Servers) -> dict:
    requests = sum(r["requests"] for r in servers.rounds)
    seconds = sum(r["seconds"] for r in servers.rounds)
    p99s = sorted(r["ms"][99] for r in servers.rounds)
    return {
        "rate": requests / seconds,
        "p50": sorted(r["ms"][50] for r in servers.rounds)[len(p99s) // 2],
        "p99": p99s[len(p99s) // 2],
        "p99_worst": p99s[-1],
        "cpu": sum(r["cpu"] * r["seconds"] for r in servers.rounds) / seconds,
    }


def run(args) -> dict:
    """Seed, serve both apps, alternate wrk rounds; returns the two summaries and the checks."""
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        database_url = f"sqlite:///{tmp}/bench.db"
        dials = seed_city(database_url, args.programs)
        with Servers("real", args.processes, database_url) as real:
            body, headers = raw_get(real.url)
            listed = json.loads(gzip.decompress(body))["items"]
            programs = sum(len(s["programs"]) for s in listed)
            print(
                f"{len(dials)} dials; {len(listed)} sites and {programs} programs listed "
                f"publicly: {len(gzip.decompress(body)):,} bytes of JSON, {len(body):,} gzipped"
            )
            with Servers("bare", args.processes, database_url, (body, headers)) as bare:
                if raw_get(bare.url) != (body, headers):
                    raise RuntimeError("the bare endpoint does not send the real list's bytes")
                checker = Checker(database_url, real.url, args.commit_every)
                for _ in range(args.rounds):
                    measure(bare, args.connections, args.seconds / args.rounds)
                    with checker:
                        measure(real, args.connections, args.seconds / args.rounds)
                checker.engine.dispose()
    return {"bare": summary(bare), "real": summary(real), "checks": checker, "listed": programs}


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = command_line(__package__, __doc__, "smoke run: 100 programs, 1 s per app")
    parser.add_argument("--programs", type=int, default=1000, help="about this many programs")
    parser.add_argument("--connections", type=int, default=64, help="wrk's connections")
    parser.add_argument("--processes", type=int, default=1, help="server processes per app")
    parser.add_argument("--seconds", type=float, default=12.0, help="wrk time per app")
    parser.add_argument("--rounds", type=int, default=4, help="bare/real alternations")
    parser.add_argument(
        "--commit-every",
        type=float,
        default=CHECK_EVERY_S,
        help="seconds between checked commits in real rounds (0: none)",
    )
    args = parser.parse_args()
    if args.quick:
        args.programs, args.seconds, args.rounds = 100, 1.0, 1

    print_header(args.quick)
    print(
        f"wrk: {args.connections} connections, 2 threads, Accept-Encoding: gzip; "
        f"{args.seconds:g} s per app in {args.rounds} alternating rounds; "
        f"{args.processes} server process(es) per app"
    )
    result = run(args)
    print(f"Load average after: {load()}\n")
    bare, real, checks = result["bare"], result["real"], result["checks"]
    rows = [
        [
            name,
            f"{s['rate']:.0f}",
            f"{s['p50']:.1f}",
            f"{s['p99']:.1f}",
            f"{s['p99_worst']:.1f}",
            f"{s['cpu']:.0%}",
        ]
        for name, s in (("bare (same bytes from memory)", bare), (f"real GET {SHELTERS}", real))
    ]
    print(table(["endpoint", "req/s", "ms p50", "p99", "worst p99", "server CPU"], rows))
    print(f"\nFresh data: {checks.checks - checks.stale} of {checks.checks} readings committed")
    print("mid-run showed up in the next response")
    print("\nRatios real/bare (same run):")
    print(f"  requests/s = {real['rate'] / bare['rate']:.3f}  (goal >= 0.7)")
    print(f"  p99        = {real['p99'] / bare['p99']:.2f}x  (goal: real p99 < 20 ms)")
    if checks.stale or (args.commit_every and not checks.checks):
        raise SystemExit(f"FAIL: {checks.stale} of {checks.checks} responses were stale")


if __name__ == "__main__":
    main()
