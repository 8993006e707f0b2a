"""Small helpers shared by the benchmarks: the command line, machine facts, percentiles, a
plain-text table."""

import argparse
import multiprocessing
import os
import platform
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata

from tests.support.services import _postgres_bin_dir  # where Debian keeps `postgres`


def machine() -> str:
    """One line naming what the numbers were measured on (they mean nothing elsewhere)."""
    with open("/proc/meminfo") as meminfo:
        memory_kb = int(meminfo.readline().split()[1])  # the first line is MemTotal
    return (
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
        f"{memory_kb / 1024**2:.1f} GiB RAM, {platform.system()} {platform.release()}"
    )


def _first_line(command: list[str]) -> str:
    """The version line a tool prints, or 'missing' (not every benchmark needs every tool)."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except OSError:
        return "missing"
    return (done.stdout or done.stderr).strip().splitlines()[0]


def versions() -> str:
    """The versions that the figures depend on."""
    packages = ["fastapi", "starlette", "uvicorn", "sqlalchemy", "psycopg", "paho-mqtt"]
    tools = [
        _first_line(["mosquitto", "-h"]).removeprefix("mosquitto version "),
        _first_line([str(_postgres_bin_dir() / "postgres"), "--version"]),
        _first_line(["wrk", "--version"]).split(" [")[0],
    ]
    return (
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        + ", ".join(f"{name} {metadata.version(name)}" for name in packages)
        + f"; Mosquitto {tools[0]}, {tools[1]}, {tools[2]}"
    )


def load() -> str:
    """1/5/15-minute load averages: other work on the machine skews absolute numbers."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of a non-empty list (pct in 0..100)."""
    ordered = sorted(values)
    rank = max(1, round(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ms_percentiles(seconds: list[float]) -> str:
    """'p50 / p90 / p99 / max' of durations in seconds, printed in milliseconds."""
    if not seconds:
        return "-"
    parts = [percentile(seconds, p) * 1000 for p in (50, 90, 99, 100)]
    return " / ".join(f"{p:.2f}" for p in parts)


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Left-aligned first column, right-aligned numbers: readable in a terminal and in docs."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        first = str(cells[0]).ljust(widths[0])
        rest = [str(c).rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def spawn_context():
    """A 'spawn' multiprocessing context: load generators run in a fresh interpreter, so they
    do not share a GIL with what they measure (and no threads are forked)."""
    return multiprocessing.get_context("spawn")


def command_line(package: str | None, doc: str, quick_help: str) -> argparse.ArgumentParser:
    """The command line every benchmark starts from: its docstring's summary and --quick.

    The benchmarks import tests.support, which only works from the repo root with -m: stop
    with a message saying so when run otherwise (`package` is the caller's __package__).
    """
    if not package:
        sys.exit("run from the repository root as a module: .venv/bin/python -m bench.<name>")
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    return parser


def print_header(quick: bool) -> None:
    """What the numbers are measured on, printed before anything is measured."""
    print(f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"Machine: {machine()}")
    print(f"Versions: {versions()}")
    if quick:
        print("--quick: a smoke run; too short for numbers worth comparing")
    print(f"Load average before: {load()}")


# What deploy/mosquitto/shelter-signal.conf sets that changes speed: no Nagle delay on small
# packets (acks), and a queue deep enough that a subscriber that falls behind loses nothing
# (Mosquitto's default cap of 1000 drops the rest: "Outgoing messages are being dropped").
BROKER_CONFIG = ("set_tcp_nodelay true", "max_queued_messages 1000000")
NAGLE_CONFIG = ("max_queued_messages 1000000",)  # the same, with Mosquitto's default Nagle


def cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU time of process `pid` so far (Linux /proc); with `children`, also
    that of its children that have ended and been waited for."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()  # after the command, which may hold spaces
    used = fields[11:15] if children else fields[11:13]  # utime, stime[, cutime, cstime]
    return sum(int(ticks) for ticks in used) / os.sysconf("SC_CLK_TCK")
