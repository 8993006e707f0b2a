"""The whole firmware's GC heap on MicroPython's Unix port: the smallest heap it runs in.

    .venv/bin/python -m bench.firmware_heap [--form source mpy] [--low K --high K --step K]
    .venv/bin/python -m bench.firmware_heap --form mpy --at 110 220   # only these sizes

Not part of `make bench` (docs/benchmarks.md, "Firmware heap on MicroPython"). Each run is
the virtual dial (tests/support/virtual_dial.py: firmware/main.py, mqtt_as and ssd1306
unmodified) under `micropython -X heapsize=N`, against the production Mosquitto (TLS),
the ingestor and SQLite, as tests/firmware/conftest.py sets them up. A run passes when the
dial connects over TLS, gets its config, a turn is saved (in the database) and its
telemetry arrives, with no MemoryError and no restart. For each form (everything from .py
source, or all but main.py compiled by mpy-cross, as `device flash` installs it) it prints the
live heap (gc.mem_alloc() after gc.collect(), every 0.5 s) in the default 2 MiB heap, then
bisects N to `--step` KiB.
"""

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from server.db import make_engine, migrate
from server.ingest.client import Ingestor
from tests.firmware.conftest import BROKER_NAME, MAX_PAYLOAD, World
from tests.hardware.mosquitto_setup import GuideBroker
from tests.support.deploy_files import write_certificate

SHARED = Path(__file__).resolve().parents[2] / "shared"
RUN_S = 90  # one run's limit: a fitting run takes 5 to 15 s


def attempt(world: World, form: str, heapsize: int | None, collect=False):
    """One dial from power-on to a saved turn and telemetry: (passed, why not, the dial)."""
    device = f"heap-{uuid.uuid4().hex[:6]}"
    flash = world.provision(device, source=form == "source", telemetry_s=10)
    env = {"DIAL_HEAP_COLLECT": "1"} if collect else {}
    dial = world.dial(flash, heapsize=heapsize, env=env)
    started = time.monotonic()
    step = "connect"
    try:
        dial.power_on()
        while time.monotonic() - started < RUN_S:
            if dial.logged("MemoryError", ever=True):
                return False, f"MemoryError at {step}", dial
            if len(dial.starts) > 1 or dial.logged("[process ended", ever=True):
                return False, f"restarted at {step}", dial
            if step == "connect" and dial.screen.shows("of 20"):
                step = "turn"
                dial.turn(3)
            elif step == "turn" and (now := world.current(device)) and now.occupied == 3:
                step = "telemetry"
            elif step == "telemetry" and world.device(device).free_heap is not None:
                time.sleep(1)  # one more heap report after the telemetry
                return True, "", dial
            time.sleep(0.2)
        return False, f"timed out at {step}", dial
    finally:
        dial.close()


def bisect(world, form, low, high, step) -> int:
    """The smallest heapsize in KiB (to step) that passes; low fails, high passes."""
    for size in (low, high):
        ok, why, _ = attempt(world, form, size * 1024)
        print(f"  {form} {size} KiB: {'ok' if ok else why}", flush=True)
        if ok != (size == high):
            raise SystemExit(f"{form}: expected {size} KiB to {'pass' if size == high else 'fail'}")
    while high - low > step:
        size = (low + high) // 2 // step * step or step
        if size in (low, high):
            break
        ok, why, _ = attempt(world, form, size * 1024)
        print(f"  {form} {size} KiB: {'ok' if ok else why}", flush=True)
        if ok:
            high = size
        else:
            low = size
    return high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--form", nargs="+", choices=["source", "mpy"], default=["source", "mpy"])
    parser.add_argument("--low", type=int, default=64, help="KiB that fails (checked)")
    parser.add_argument("--high", type=int, default=512, help="KiB that passes (checked)")
    parser.add_argument("--step", type=int, default=4, help="KiB: bisect to this")
    parser.add_argument("--at", type=int, nargs="+", help="KiB: only run at these sizes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        vendor = SHARED / "vendor" if SHARED.is_dir() else None  # else GitHub
        broker = GuideBroker(folder / "passwd")
        write_certificate(broker.ca, broker.dir, "127.0.0.1", "localhost", BROKER_NAME)
        with broker:
            database = f"sqlite:///{folder / 'signal.db'}"
            migrate(database)
            engine = make_engine(database)
            ingestor = Ingestor(engine, broker.url, "ingest-bench", MAX_PAYLOAD)
            ingestor.start()
            assert ingestor.connected.wait(10), "the ingestor did not connect"
            world = World(broker, engine, folder / "devices", vendor)
            try:
                results = {}
                for form in args.form:
                    for size in args.at or []:
                        ok, why, dial = attempt(world, form, size * 1024)
                        peak = max(dial.heap, default=0)
                        print(f"  {form} {size} KiB: {'ok' if ok else why}, sampled peak {peak} B")
                        if not ok:
                            print(dial.tail(12), flush=True)
                    if args.at:
                        continue
                    ok, why, dial = attempt(world, form, None, collect=True)
                    print(
                        f"{form}: default heap (2 MiB), gc.collect() every 0.5 s: "
                        f"{'ok' if ok else why}, live heap after collection: "
                        f"peak {max(dial.live, default=0)} B, last {dial.live[-1:]}",
                        flush=True,
                    )
                    results[form] = bisect(world, form, args.low, args.high, args.step)
                for form, size in results.items():
                    print(f"{form}: smallest heapsize that runs: {size} KiB (to {args.step} KiB)")
            finally:
                ingestor.stop()
                engine.dispose()


if __name__ == "__main__":
    main()
