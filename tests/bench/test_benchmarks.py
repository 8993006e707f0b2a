"""`make bench` still works: every benchmark's smoke run (--quick) finishes and prints its
ratios. What the numbers are is for docs/benchmarks.md, never for a test."""

import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import BENCHMARKS
from tests.support.waiting import scaled

ROOT = Path(__file__).parents[2]


@pytest.mark.mosquitto
@pytest.mark.postgres
def test_every_benchmark_runs_and_prints_ratios_against_its_baseline():
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(110),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    sections = done.stdout.split("\n=== bench.")[1:]
    assert [s.split(":")[0] for s in sections[::2]] == list(BENCHMARKS)
    for section in sections[::2]:  # each benchmark's output (the odd ones are its timing)
        assert "Date: " in section and "Machine: " in section and "Versions: " in section
        assert "Ratios" in section, section
