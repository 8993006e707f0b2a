"""scripts/cpu-hog: a command run beside busy loops, its status passed on (make test-loaded)."""

import os
import subprocess
import sys
from pathlib import Path

from tests.support.waiting import scaled

HOG = Path(__file__).resolve().parents[2] / "scripts" / "cpu-hog"
# The child reads its own share of the CPU: beside two busy loops per core, a second of its
# wall time gives it under half a second of CPU time, on any number of cores.
SHARE = """
import os, sys, time
start, cpu = time.monotonic(), time.process_time()
while time.monotonic() - start < 1:
    pass
print(round((time.process_time() - cpu) / (time.monotonic() - start), 2))
sys.exit(3)
"""


def test_the_command_runs_beside_busy_loops_and_its_status_is_passed_on():
    hogs = 2 * (os.cpu_count() or 1)
    done = subprocess.run(
        [sys.executable, str(HOG), "--hogs", str(hogs), sys.executable, "-c", SHARE],
        capture_output=True,
        text=True,
        timeout=scaled(30),
    )
    assert done.returncode == 3, done.stderr
    assert float(done.stdout) < 0.9  # it had to share the cores
    assert done.stderr.startswith("cpu-hog: exit status 3 after ")
    assert done.stderr.endswith(f" s beside {hogs} busy loops\n")
