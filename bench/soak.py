"""`make soak`: a whole day of every Toronto program on real dials, under repeated faults.

Replays the chosen day (bench/faults.py) with every site and several faults of each kind,
prints progress while it runs and the counts at the end; exits 1 unless the database holds
exactly what the dials sent: zero lost, zero doubled. docs/reliability.md explains the method
and records a run. `tests/e2e/test_faults.py` runs the same code, smaller and shorter.
"""

import argparse
import os
import signal
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from bench._common import load, machine
from bench.faults import (
    BROKER_CONFIG,
    BROKER_CRASH,
    DAY,
    FAULTS,
    SAVE_EVERY_CHANGE,
    Config,
    run,
)

REPO = Path(__file__).resolve().parent.parent
# The whole quarter of the city's data and its places, in the shared data folder
DATA = "datasets/toronto-occupancy-2024q1/daily-shelter-overnight-occupancy-2024q1.csv"
LOCATIONS = "datasets/toronto-locations/shelters.geojson"
CENTROIDS = "datasets/toronto-fsa-centroids/Geospatial_Coordinates.csv"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument(
        "--shared",
        type=Path,
        default=Path(os.environ.get("SIGNAL_SHARED_DIR") or REPO.parent / "shared"),
        help="the shared data folder (default: $SIGNAL_SHARED_DIR, else ../shared)",
    )
    parser.add_argument("--day", type=date.fromisoformat, default=DAY, help="the day replayed")
    parser.add_argument("--minutes", type=float, default=10, help="the day, compressed to this")
    parser.add_argument("--each", type=int, default=3, help="faults of each kind")
    parser.add_argument(
        "--outage", type=float, default=120, help="seconds a disconnected dial stays cut off"
    )
    parser.add_argument("--sites", type=int, default=None, help="only the first N sites")
    parser.add_argument(
        "--crash",
        type=int,
        default=0,
        help="broker kill -9 faults (outside the guarantee: history may lose commits)",
    )
    parser.add_argument(
        "--save-every-change",
        action="store_true",
        help="Mosquitto saves its state after every change, not every minute",
    )
    args = parser.parse_args()
    # Stopped by a service manager or a CI timeout (SIGTERM): stop the broker, the database
    # and the ingestor on the way out, as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    def progress(line: str) -> None:
        print(line, flush=True)

    config = Config(
        data=args.shared / DATA,
        locations=args.shared / LOCATIONS,
        centroids=args.shared / CENTROIDS,
        day=args.day,
        sites=args.sites,
        day_seconds=args.minutes * 60,
        faults=dict.fromkeys(FAULTS, args.each) | {BROKER_CRASH: args.crash},
        outage_seconds=args.outage,
        progress=progress,
        broker_config=BROKER_CONFIG + (SAVE_EVERY_CHANGE if args.save_every_change else ()),
    )
    print(f"soak: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {machine()}; load {load()}")
    print(
        f"replaying {args.day} ({args.minutes:g} min), {args.each} faults of each kind, "
        f"outage {args.outage:g} s, {args.crash} broker crashes",
        flush=True,
    )
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="signal-soak-") as workdir:
        result = run(config, Path(workdir))
    for line in result.lines():
        print(line)
    print("EXACT: zero lost, zero doubled" if result.exact else "MISMATCH: see the counts above")
    print(f"wall time {time.monotonic() - began:.0f} s")
    sys.exit(0 if result.exact else 1)


if __name__ == "__main__":
    main()
