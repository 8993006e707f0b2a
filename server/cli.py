"""The `shelter-signal` command: one subcommand per part of the system.

Settings come from SIGNAL_* environment variables (docs/operations.md); options here are
only what differs from one invocation to the next.
"""

import argparse
import asyncio
import json
import logging
import random
import sys
from pathlib import Path

from sqlmodel import Session, select

from server.db import make_engine, migrate
from server.devices import register
from server.exports.geojson import feature_collection
from server.imports.toronto import import_csv
from server.models import Device
from server.queries import sites
from server.runner import run, until_stopped
from server.settings import Settings, get_settings
from server.simulator.fleet import Fleet


def _parts(*parts):
    def start(args: argparse.Namespace, settings: Settings) -> None:

        chosen = [p for p in parts if not (p == "demo" and getattr(args, "no_demo", False))]
        asyncio.run(run(settings, chosen, getattr(args, "state_dir", Path("var/sim"))))

    return start


def _simulate(args: argparse.Namespace, settings: Settings) -> None:

    url = settings.mqtt_url or f"mqtt://{settings.broker_host}:{settings.broker_port}"

    async def simulate():
        fleet = Fleet(url, args.device_ids, args.state_dir, settle_ms=args.settle_ms)
        await fleet.start()
        staff = asyncio.create_task(fleet.staff(args.interval, random.Random()))
        print(f"{len(args.device_ids)} simulated dials on {url}. Ctrl-C stops.", flush=True)
        await until_stopped()
        staff.cancel()
        await fleet.stop()

    asyncio.run(simulate())


def _export(args: argparse.Namespace, settings: Settings) -> None:

    with Session(make_engine(settings.database_url)) as session:
        body = feature_collection(sites(session, settings))
    json.dump(body, args.output, indent=1)
    args.output.write("\n")


def _import(args: argparse.Namespace, settings: Settings) -> None:
    migrate(settings.database_url)
    with Session(make_engine(settings.database_url)) as session:
        try:
            report = import_csv(
                session,
                args.csv,
                args.locations,
                args.centroids,
                progress=lambda rows: print(f"{rows} rows read...", file=sys.stderr, flush=True),
            )
        except (OSError, ValueError) as e:
            sys.exit(f"import: {e}")
    for line, reason in report.errors:
        print(f"{args.csv}:{line}: skipped: {reason}", file=sys.stderr)
    for line, reason in report.warnings:
        print(f"{args.csv}:{line}: loaded, but {reason}", file=sys.stderr)
    for name in report.unplaced:
        print(f"no coordinates for {name}: not on the map until placed", file=sys.stderr)
    print(
        f"{report.rows} rows: {len(report.errors)} skipped, {len(report.warnings)} warnings; "
        f"sites added {report.sites_added}; programs added {report.programs_added}, "
        f"updated {report.programs_updated}; unplaced sites {len(report.unplaced)}"
    )


def _device_add(args: argparse.Namespace, settings: Settings) -> None:

    channels = []
    for spec in args.channel:
        program_id, _, label = spec.partition(":")
        if not program_id.isdigit() or not label:
            sys.exit(f"--channel {spec!r}: write PROGRAM_ID:LABEL, for example 12:Men's beds")
        channels.append((int(program_id), label))
    with Session(make_engine(settings.database_url)) as session:
        try:
            register(session, args.device_id, args.site, channels, args.mode)
        except ValueError as e:
            sys.exit(f"device add: {e}")
        session.commit()
    print(f"registered {args.device_id}; the ingestor publishes its config when it (re)starts")


def _device_list(_args: argparse.Namespace, settings: Settings) -> None:

    with Session(make_engine(settings.database_url)) as session:
        devices = session.exec(select(Device).order_by(Device.id)).all()
    print(f"{'device':<20} {'status':<8} {'last seen (UTC)':<20} {'firmware':<9} {'rssi':>5}")
    for d in devices:
        seen = d.last_seen.strftime("%Y-%m-%d %H:%M:%S") if d.last_seen else "never"
        rssi = "" if d.rssi is None else str(d.rssi)
        print(f"{d.id:<20} {d.status:<8} {seen:<20} {d.firmware or '':<9} {rssi:>5}")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="shelter-signal",
        description="Real-time shelter capacity. Settings: SIGNAL_* (docs/operations.md).",
    )
    top.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="everything in one process, with a demo")
    run.add_argument("--no-demo", action="store_true", help="no invented shelters or dials")
    run.add_argument("--state-dir", type=Path, default=Path("var/sim"), help="demo dials' flash")
    run.set_defaults(func=_parts("broker", "ingest", "web", "demo"))
    commands.add_parser("serve", help="the API and the map").set_defaults(func=_parts("web"))
    commands.add_parser("ingest", help="the MQTT ingestor").set_defaults(func=_parts("ingest"))
    commands.add_parser("broker", help="the embedded MQTT broker").set_defaults(
        func=_parts("broker")
    )

    sim = commands.add_parser("simulate", help="simulated dials for registered devices")
    sim.add_argument("device_ids", nargs="+", metavar="DEVICE_ID")
    sim.add_argument("--interval", type=float, default=4.0, help="mean seconds between turns")
    sim.add_argument("--settle-ms", type=int, default=1000, help="dial settle time")
    sim.add_argument("--state-dir", type=Path, default=Path("var/sim"), help="dials' flash")
    sim.set_defaults(func=_simulate)

    export = commands.add_parser("export", help="current availability as GeoJSON")
    export.add_argument("-o", "--output", type=argparse.FileType("w"), default=sys.stdout)
    export.set_defaults(func=_export)

    imports = commands.add_parser("import", help="sites and programs from Toronto's CSV")
    imports.add_argument("csv", type=Path, help="daily shelter occupancy CSV (32 columns)")
    imports.add_argument("--locations", type=Path, help="GeoJSON of points by LOCATION_ID")
    imports.add_argument("--centroids", type=Path, help="CSV of postal-area centre points")
    imports.set_defaults(func=_import)

    device = commands.add_parser("device", help="register and list dials")
    device_commands = device.add_subparsers(dest="device_command", required=True)
    add = device_commands.add_parser("add", help="register a dial and pair its channels")
    add.add_argument("device_id")
    add.add_argument("--site", type=int, required=True, help="site id")
    add.add_argument(
        "--channel",
        action="append",
        required=True,
        metavar="PROGRAM_ID:LABEL",
        help="one per channel, in order",
    )
    add.add_argument("--mode", default="occupied", help="what the dial counts: occupied or free")
    add.set_defaults(func=_device_add)
    device_commands.add_parser("list", help="the fleet").set_defaults(func=_device_list)
    return top


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for chatty in ("amqtt", "transitions", "alembic"):  # their INFO is a line per packet or step
        logging.getLogger(chatty).setLevel(logging.WARNING)
    args.func(args, get_settings())
