"""`make bench`: every benchmark in turn, each printing its ratios against a baseline
measured in the same run (docs/benchmarks.md).

    .venv/bin/python -m bench [--quick] [--only NAME ...]

Each runs in a process of its own, one after the other (they would skew each other on 2
cores). --quick passes --quick to each: a smoke run that checks they still work, in well
under a minute in all; its numbers are not worth comparing.
"""

import argparse
import subprocess
import sys
import time

# In the order of docs/benchmarks.md; full runs take about 1 min, 15 s, 30 s, 2.5 min, 1 min
# and 2 min.
BENCHMARKS = {
    "freshness_latency": "dial commit -> event stream, against Mosquitto publish -> subscribe",
    "ingest_throughput": "readings committed and acked per second, against mosquitto_pub/sub",
    "api_latency": "GET /api/v1/shelters with wrk, against the same bytes from memory",
    "fleet_scale": "5,000 dials connected: ingest lag, against the broker's round trip",
    "embedded_broker": "iotcore against amqtt (and Mosquitto): loss, leaks, rate, start/stop",
    "map_scale": "the map at 10,000 shelters on a throttled phone, against 100 shelters",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run of each")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run just these")
    args = parser.parse_args()
    failed = []
    for name in args.only or BENCHMARKS:
        print(f"\n=== bench.{name}: {BENCHMARKS[name]}", flush=True)
        started = time.monotonic()
        command = [sys.executable, "-m", f"bench.{name}", *(["--quick"] if args.quick else [])]
        if subprocess.run(command).returncode:
            failed.append(name)
        print(f"=== bench.{name}: {time.monotonic() - started:.0f} s", flush=True)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
