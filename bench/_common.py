"""Small helpers shared by the benchmarks: the command line, machine facts, percentiles, a
plain-text table."""

import argparse
import multiprocessing
import os
import platform
import sys


def machine() -> str:
    """One line naming what the numbers were measured on (they mean nothing elsewhere)."""
    return (
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
        f"Python {platform.python_version()} on {platform.system()} {platform.release()}"
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
    print(f"Machine: {machine()}")
    if quick:
        print("--quick: a smoke run; too short for numbers worth comparing")
    print(f"Load average before: {load()}")
