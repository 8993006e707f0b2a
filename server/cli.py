"""The `shelter-signal` command: one subcommand per part of the system.

Settings come from SIGNAL_* environment variables (docs/operations.md); options here are
only what differs from one invocation to the next.
"""

import argparse
import asyncio
import getpass
import json
import logging
import os
import random
import shlex
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

from alembic.migration import MigrationContext
from sqlmodel import Session, select

from server import devices, firmware, provision
from server.credentials import hash_secret, new_secret
from server.db import make_engine, migrate
from server.devices import register
from server.exports import hsds
from server.exports.geojson import feature_collection
from server.exports.toronto_csv import Clock, check_counted, latest_date, occupancy_csv
from server.imports.city import import_file
from server.imports.profile import Profile, ProfileError, load, shipped
from server.models import Device, utcnow
from server.queries import sites
from server.runner import STATE_DIR, PortInUse, run, stop_signals, until_stopped
from server.settings import Settings, get_settings
from server.simulator.fleet import Fleet


def _database(settings: Settings) -> Session:
    """A session on the database of the settings, migrated to the newest schema first."""
    migrate(settings.database_url)
    return Session(make_engine(settings.database_url))


def _migrate(_args: argparse.Namespace, settings: Settings) -> None:
    """Bring the database to the newest schema and exit: deploy/systemd runs this once
    before the API and ingestors start, so several processes never migrate at once."""
    with _database(settings) as session:
        revision = MigrationContext.configure(session.connection()).get_current_revision()
    print(f"database schema at revision {revision}")


def _parts(*parts):
    def start(args: argparse.Namespace, settings: Settings) -> None:
        chosen = [p for p in parts if not (p == "demo" and getattr(args, "no_demo", False))]
        try:
            asyncio.run(run(settings, chosen, getattr(args, "state_dir", STATE_DIR)))
        except PortInUse as e:
            sys.exit(f"{args.command}: {e}")

    return start


def _simulate(args: argparse.Namespace, settings: Settings) -> None:
    url = settings.mqtt_url or f"mqtt://{settings.broker_host}:{settings.broker_port}"

    async def simulate():
        fleet = Fleet(url, args.device_ids, args.state_dir, settle_ms=args.settle_ms)
        await fleet.start()
        staff = asyncio.create_task(fleet.staff(args.interval, random.Random()))
        stop = stop_signals()
        print(f"{len(args.device_ids)} simulated dials on {url}. Ctrl-C stops.", flush=True)
        await until_stopped(stop)
        staff.cancel()
        await fleet.stop()

    asyncio.run(simulate())


def _export(args: argparse.Namespace, settings: Settings) -> None:
    if (args.date or args.until) and args.format != "toronto-csv":
        sys.exit("export: --date and --until are for --format toronto-csv only")
    with _database(settings) as session:
        if args.format == "toronto-csv":
            now = utcnow()
            clock = Clock.of(settings)
            day = args.date or latest_date(now, clock)
            last = args.until or day
            if last < day:
                sys.exit(f"export: --until {last} is before --date {day}")
            try:
                check_counted(last, now, clock)
            except ValueError as e:
                sys.exit(f"export: {e}")
            text = occupancy_csv(session, day, last, clock)
        else:
            if args.format == "hsds":
                body = hsds.export(session, settings)
            else:
                body = feature_collection(sites(session, settings))
            text = json.dumps(body, indent=1) + "\n"
    _write(args.output, text)


def _write(output: Path | None, text: str) -> None:
    """To stdout, or to a file only once the whole text is made: an export that fails never
    leaves an empty or half-written file where the last good one was."""
    if output is None:
        sys.stdout.write(text)
        return
    partial = output.with_name(f".{output.name}.partial")
    try:
        partial.write_text(text)
        partial.replace(output)
    except OSError as e:
        partial.unlink(missing_ok=True)
        sys.exit(f"export: cannot write {output}: {e.strerror}")


PROGRESS_ROWS = 10_000  # a line per 10,000 rows: a few lines for a year of Toronto (~50,000)


def _import(args: argparse.Namespace, settings: Settings) -> None:
    """Sites, programs and (--history) the nightly counts of a city's file, in one
    transaction: all of it, or with --dry-run or too many refused rows, none."""
    try:
        profile = load_profile(args.profile)
    except ProfileError as e:
        sys.exit(f"import: {e}")
    progress = Progress(args.file)
    with _database(settings) as session:
        try:
            report = import_file(
                session,
                args.file,
                profile,
                site_list=args.sites,
                locations=args.locations,
                centroids=args.centroids,
                history=args.history,
                max_errors=args.max_errors,
                progress=progress,
            )
        except (OSError, ValueError) as e:
            session.rollback()
            sys.exit(f"import: {e}")
        finally:
            progress.done()
        if args.dry_run:
            session.rollback()
        else:
            session.commit()
    _show(args.file, "skipped: ", report, report.errors)
    _show(args.file, "loaded, but ", report, report.warnings)
    for name in report.unplaced:
        print(f"no coordinates for {name}: not on the map until placed", file=sys.stderr)
    print(
        f"{report.rows} rows: {len(report.errors)} skipped, {len(report.warnings)} warnings; "
        f"sites added {report.sites_added}; programs added {report.programs_added}, "
        f"updated {report.programs_updated}; readings added {report.readings_added}, "
        f"already there {report.readings_known}; unplaced sites {len(report.unplaced)}"
        + ("; dry run: nothing saved" if args.dry_run else "")
    )
    if report.errors and not args.allow_refused:
        sys.exit(2)  # loaded, but not everything: a script must notice


def load_profile(name: str) -> Profile:
    """A shipped profile by name (toronto), or a profile file."""
    path = Path(name)
    return load(path if path.suffix == ".toml" else shipped(name))


class Progress:
    """A bar of the rows read, on stderr: redrawn in place on a terminal, else a line per
    PROGRESS_ROWS. The total is the file's lines less its header, counted before the import
    (a 50,000-row file in milliseconds): a quoted field with a line break in it makes that a
    little high, so the bar may end short of full, never past it."""

    WIDTH = 30  # characters of bar: it and its figures fit an 80-column terminal

    def __init__(self, path: Path):
        self.tty = sys.stderr.isatty()
        self.total = 0
        self.drawn = False
        try:
            with open(path, "rb") as f:
                lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
            self.total = max(lines - 1, 1)
        except OSError:
            pass  # the import itself says what is wrong with the file

    def __call__(self, rows: int) -> None:
        share = min(rows / self.total, 1.0) if self.total else 0.0
        if self.tty and rows % 100 == 0:
            bar = "#" * round(share * self.WIDTH)
            line = f"\r[{bar:<{self.WIDTH}}] {share:4.0%}  {rows:,} of {self.total:,} rows"
            print(line, end="", file=sys.stderr, flush=True)
            self.drawn = True
        elif not self.tty and rows % PROGRESS_ROWS == 0:
            print(f"{rows:,} of {self.total:,} rows read ({share:.0%})", file=sys.stderr)

    def done(self) -> None:
        """End the bar's line, so what follows starts on a line of its own."""
        if self.drawn:
            print(file=sys.stderr)


def _show(path: Path, said: str, report, found: list[tuple[int, str]]) -> None:
    """Each reason once, with its first lines, and how many more rows it hit."""
    by_line = dict(found)
    for _pattern, rows, lines in report.by_reason(found):
        for line in lines:
            print(f"{path}:{line}: {said}{by_line[line]}", file=sys.stderr)
        if rows > len(lines):
            print(f"  ...and {rows - len(lines)} more rows like it", file=sys.stderr)


def _device_channels(specs: list[str]) -> list[tuple[int, str]]:
    channels = []
    for spec in specs:
        program_id, _, label = spec.partition(":")
        if not program_id.isdigit() or not label:
            sys.exit(f"--channel {spec!r}: write PROGRAM_ID:LABEL, for example 12:Men's beds")
        channels.append((int(program_id), label))
    return channels


def _device_config(args: argparse.Namespace, secret: str) -> dict | None:
    """The dial's device_config.json, when --wifi-ssid and --mqtt-host say how it connects."""
    if not (args.wifi_ssid or args.mqtt_host):
        if args.wifi_password or args.mqtt_port or args.mqtt_ca:
            raise ValueError(
                "the Wi-Fi and MQTT options write the config: add --wifi-ssid and --mqtt-host"
            )
        return None
    if not (args.wifi_ssid and args.mqtt_host):
        raise ValueError("--wifi-ssid and --mqtt-host go together: the dial needs both")
    password = args.wifi_password
    if password is None:  # asked, not typed on the command line: keeps it out of the history
        password = getpass.getpass(f"Wi-Fi password of {args.wifi_ssid} (empty if open): ")
    tls = args.mqtt_ca is not None
    port = args.mqtt_port or (8883 if tls else 1883)  # the IANA ports of MQTT with and without TLS
    return provision.build_config(
        args.device_id, secret, args.wifi_ssid, password, args.mqtt_host, port, tls
    )


def _device_add(args: argparse.Namespace, settings: Settings) -> None:
    """Register a dial, issue its secret, and write what the broker and the dial need."""
    with _database(settings) as session:
        if args.site is None:
            sites_known = provision.site_choices(session)
            sys.exit(f"device add: which site? Add --site with one of:\n{sites_known}")
        if not args.channel:
            try:
                programs = provision.program_choices(session, args.site)
            except ValueError as e:
                sys.exit(f"device add: {e}")
            sys.exit(
                "device add: which programs does it count? Add --channel PROGRAM_ID:LABEL, "
                f"one per channel, in order:\n{programs}"
            )
        channels = _device_channels(args.channel)
        secret = new_secret()
        folder = provision.device_dir(args.devices_dir, args.device_id)
        try:
            config = _device_config(args, secret)
            device = register(session, args.device_id, args.site, channels, args.mode)
            device.secret_hash = hash_secret(secret)
            if config is not None:
                if args.mqtt_ca:
                    provision.add_ca(folder, args.mqtt_ca)
                config_path = provision.write_config(folder, config)
            passwd = args.mosquitto_passwd or settings.mosquitto_passwd_file
            if passwd:
                provision.set_mosquitto_password(passwd, args.device_id, secret)
        except (ValueError, provision.ProvisionError) as e:
            sys.exit(f"device add: {e}")
        session.commit()
    print(f"registered {args.device_id} at site {args.site} with {len(channels)} channel(s)")
    print(f"MQTT user: {args.device_id}")
    print(f"secret (MQTT password and web dial secret; shown only now): {secret}")
    if config is None:
        print("no device_config.json written: --wifi-ssid and --mqtt-host write one")
    else:
        print(f"wrote {config_path}: it holds passwords, keep it off shared drives and git")
    if passwd:
        print(f"updated {passwd}: reload Mosquitto (systemctl reload mosquitto)")
    print("the ingestor publishes the dial's config when it (re)starts")
    if config is not None:
        print(f"next: plug in the board and run `shelter-signal device flash {args.device_id}`")


def _device_list(_args: argparse.Namespace, settings: Settings) -> None:
    with _database(settings) as session:
        devices = session.exec(select(Device).order_by(Device.id)).all()
    print(f"{'device':<20} {'status':<8} {'last seen (UTC)':<20} {'firmware':<9} {'rssi':>5}")
    for d in devices:
        seen = d.last_seen.strftime("%Y-%m-%d %H:%M:%S") if d.last_seen else "never"
        rssi = "" if d.rssi is None else str(d.rssi)
        print(f"{d.id:<20} {d.status:<8} {seen:<20} {d.firmware or '':<9} {rssi:>5}")


def _device_reset_sequence(args: argparse.Namespace, settings: Settings) -> None:
    with _database(settings) as session:
        device = session.get(Device, args.device_id)
        if device is None:
            sys.exit(f"device reset-sequence: no device {args.device_id}")
        programs = devices.reset_sequence(session, device)
        session.commit()
    print(f"{args.device_id}: numbering forgotten; its next count is shown ({programs} programs)")


def _device_flash(args: argparse.Namespace, _settings: Settings) -> None:
    """Stage the dial's files, show the mpremote commands, and run them unless --dry-run."""
    folder = provision.device_dir(args.devices_dir, args.device_id)
    try:
        if not args.code_only and provision.read_config(folder)["device_id"] != args.device_id:
            sys.exit(f"device flash: {folder} holds the config of another dial")
        flash = provision.stage(folder, args.vendor, args.source, config=not args.code_only)
    except (ValueError, provision.ProvisionError) as e:
        sys.exit(f"device flash: {e}")
    if args.code_only:
        print("# no config: the dial opens its setup Wi-Fi (firmware/README.md, 'Provisioning')")
    commands = provision.flash_commands(flash, args.port)
    print("# the board must run MicroPython already (hardware/README.md, 'Flash')")
    for command in commands:
        print(shlex.join(command))
    if args.dry_run:
        return
    # Also next to this Python: a venv's mpremote works without activating the venv.
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    mpremote = shutil.which("mpremote", path=search)
    if mpremote is None:
        sys.exit("device flash: mpremote not found: pip install mpremote")
    for command in commands:
        if subprocess.run([mpremote, *command[1:]]).returncode != 0:
            sys.exit(f"device flash: `{shlex.join(command)}` failed; check the USB cable and port")
    print(f"{args.device_id} is flashed and restarting")


def _firmware_release(args: argparse.Namespace, settings: Settings) -> None:
    """Store the firmware of a folder (this checkout's by default) as a release."""
    folder = args.source
    try:
        version = args.version or firmware.folder_version(folder)
        files = firmware.folder_files(folder, version)
        with _database(settings) as session:
            new = firmware.store_release(session, version, files)
            session.commit()
    except firmware.FirmwareError as e:
        sys.exit(f"firmware release: {e}")
    size = sum(len(data) for _path, data in files)
    said = "stored" if new else "already stored, with the same files"
    print(f"release {version} {said}: {len(files)} files, {size} bytes, from {folder}")
    if new:
        print(f"next: shelter-signal firmware rollout {version} --device ID (or --percent N)")


def _firmware_rollout(args: argparse.Namespace, settings: Settings) -> None:
    with _database(settings) as session:
        try:
            chosen = firmware.roll_out(session, args.version, args.device, args.percent)
        except firmware.FirmwareError as e:
            sys.exit(f"firmware rollout: {e}")
        session.commit()
        names = [device.id for device in chosen]
    print(f"{args.version} rolled out to {len(names)} dial(s): {', '.join(names) or 'none'}")
    print("the ingestor sends the order within seconds; `shelter-signal firmware list` follows it")


def _firmware_stop(args: argparse.Namespace, settings: Settings) -> None:
    with _database(settings) as session:
        try:
            stopped = firmware.stop(session, args.version)
        except firmware.FirmwareError as e:
            sys.exit(f"firmware stop: {e}")
        session.commit()
    print(f"{args.version} stopped: withdrawn from {len(stopped.withdrawn)} dial(s)")
    if stopped.running:
        print(f"already running it, and staying on it: {', '.join(stopped.running)}")


def _firmware_list(_args: argparse.Namespace, settings: Settings) -> None:
    with _database(settings) as session:
        releases = firmware.releases(session)
        fleet = session.exec(select(Device).order_by(Device.id)).all()
    print("releases:" if releases else "no releases: `shelter-signal firmware release` stores one")
    for release, files, size in releases:
        stored = release.created_at.strftime("%Y-%m-%d %H:%M")
        print(f"  {release.version:<16} {files:>3} files {size:>8} bytes  stored {stored} UTC")
    print(f"{'device':<20} {'running':<14} {'target':<14} {'update':<28} {'reported (UTC)':<16}")
    for d in fleet:
        update = f"{d.update_version} {d.update_state}" if d.update_state else ""
        at = d.update_at.strftime("%Y-%m-%d %H:%M") if d.update_at else ""
        print(
            f"{d.id:<20} {d.firmware or '':<14} {d.target_firmware or '':<14} {update:<28} {at:<16}"
        )
        if d.update_reason:
            print(f"{'':<20} why: {d.update_reason}")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="shelter-signal",
        description="Real-time shelter capacity. Settings: SIGNAL_* (docs/operations.md).",
    )
    top.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="everything in one process, with a demo")
    run.add_argument("--no-demo", action="store_true", help="no invented shelters or dials")
    run.add_argument("--state-dir", type=Path, default=STATE_DIR, help="demo dials' flash")
    run.set_defaults(func=_parts("broker", "ingest", "web", "demo"))
    commands.add_parser("serve", help="the API and the map").set_defaults(func=_parts("web"))
    commands.add_parser("ingest", help="the MQTT ingestor").set_defaults(func=_parts("ingest"))
    commands.add_parser("broker", help="the embedded MQTT broker").set_defaults(
        func=_parts("broker")
    )
    commands.add_parser(
        "migrate", help="bring the database to the newest schema, then exit"
    ).set_defaults(func=_migrate)

    sim = commands.add_parser("simulate", help="simulated dials for registered devices")
    sim.add_argument("device_ids", nargs="+", metavar="DEVICE_ID")
    sim.add_argument("--interval", type=float, default=4.0, help="mean seconds between turns")
    sim.add_argument("--settle-ms", type=int, default=1000, help="dial settle time")
    sim.add_argument("--state-dir", type=Path, default=STATE_DIR, help="dials' flash")
    sim.set_defaults(func=_simulate)

    export = commands.add_parser("export", help="GeoJSON, HSDS 3.1 or the city's occupancy CSV")
    export.add_argument(
        "--format",
        choices=["geojson", "hsds", "toronto-csv"],
        default="geojson",
        help="geojson: current availability (RFC 7946); hsds: HSDS 3.1 services; "
        "toronto-csv: the City of Toronto's daily occupancy CSV (docs/exports.md)",
    )
    export.add_argument(
        "--date",
        type=date.fromisoformat,
        help="occupancy date (YYYY-MM-DD) of the toronto-csv; default: the newest one counted",
    )
    export.add_argument(
        "--until",
        type=date.fromisoformat,
        help="with --date: every occupancy date from --date to this one, in one file",
    )
    export.add_argument(
        "-o", "--output", type=Path, help="file to write (replaced only when the export is made)"
    )
    export.set_defaults(func=_export)

    imports = commands.add_parser(
        "import", help="sites, programs and their history from a city's file (a profile says how)"
    )
    imports.add_argument("file", type=Path, help="the city's CSV (its profile says its columns)")
    imports.add_argument(
        "--profile",
        default="toronto",
        help="a city profile (.toml; docs/city-adoption.md), or a shipped one by name "
        "(default: toronto, the City of Toronto's daily occupancy CSV)",
    )
    imports.add_argument("--sites", type=Path, help="the site list the profile joins (sites.*)")
    imports.add_argument("--locations", type=Path, help="GeoJSON of points by site key")
    imports.add_argument("--centroids", type=Path, help="CSV of postal-area centre points")
    imports.add_argument(
        "--history", action="store_true", help="also store each night's count as a reading"
    )
    imports.add_argument("--dry-run", action="store_true", help="check and report; save nothing")
    imports.add_argument(
        "--max-errors",
        type=int,
        default=1000,
        metavar="N",
        help="import nothing when more than N rows are refused (default 1000: so many is "
        "most likely the wrong profile)",
    )
    imports.add_argument(
        "--allow-refused",
        action="store_true",
        help="exit 0 even when rows were refused (they are still reported)",
    )
    imports.set_defaults(func=_import)

    device = commands.add_parser("device", help="register, list and flash dials")
    device_commands = device.add_subparsers(dest="device_command", required=True)
    devices_dir = argparse.ArgumentParser(add_help=False)
    devices_dir.add_argument(
        "--devices-dir",
        type=Path,
        default=Path("devices"),
        help="where each dial's files go, in a folder named after it (default: devices)",
    )
    add = device_commands.add_parser(
        "add",
        parents=[devices_dir],
        help="register a dial, issue its secret, write its broker entry and config file",
    )
    add.add_argument("device_id")
    add.add_argument("--site", type=int, help="site id (leave out to list the sites)")
    add.add_argument(
        "--channel",
        action="append",
        metavar="PROGRAM_ID:LABEL",
        help="one per channel, in order (leave out to list the site's programs)",
    )
    add.add_argument("--mode", default="occupied", help="what the dial counts: occupied or free")
    dial = add.add_argument_group("the dial's device_config.json (written when these are given)")
    dial.add_argument("--wifi-ssid", help="the shelter's Wi-Fi network (2.4 GHz)")
    dial.add_argument("--wifi-password", help="leave out to be asked (keeps it out of history)")
    dial.add_argument("--mqtt-host", help="the broker's host name as the dial reaches it")
    dial.add_argument("--mqtt-port", type=int, help="default 1883, or 8883 with --mqtt-ca")
    dial.add_argument(
        "--mqtt-ca", type=Path, help="the broker's CA certificate (DER): turns on TLS"
    )
    broker = add.add_argument_group("Mosquitto (hardware/README.md, 'The broker')")
    broker.add_argument(
        "--mosquitto-passwd",
        type=Path,
        help="password file to add the dial to (created if new); "
        "default: SIGNAL_MOSQUITTO_PASSWD_FILE",
    )
    add.set_defaults(func=_device_add)
    device_commands.add_parser("list", help="the fleet").set_defaults(func=_device_list)
    reset = device_commands.add_parser(
        "reset-sequence",
        help="show a wiped or replaced dial's next count whatever its (boot, seq)",
    )
    reset.add_argument("device_id")
    reset.set_defaults(func=_device_reset_sequence)
    flash = device_commands.add_parser(
        "flash",
        parents=[devices_dir],
        help="copy the firmware, its libraries and the dial's config to a board (mpremote)",
    )
    flash.add_argument("device_id")
    flash.add_argument(
        "--port", default="auto", help="serial port, e.g. /dev/ttyUSB0 (default: the first found)"
    )
    flash.add_argument("--dry-run", action="store_true", help="only show the commands")
    flash.add_argument(
        "--vendor",
        type=Path,
        help="take mqtt_as and ssd1306 from this folder, laid out as ../shared/vendor "
        "(default: fetch them from GitHub at the pinned commits)",
    )
    flash.add_argument(
        "--code-only",
        action="store_true",
        help="the firmware and libraries without device_config.json: the dial then opens "
        "its setup Wi-Fi, to be set up through its form",
    )
    flash.add_argument(
        "--source",
        action="store_true",
        help="copy .py sources instead of compiling to .mpy (a board with PSRAM only: "
        "from source the firmware needs about 344 KiB of heap)",
    )
    flash.set_defaults(func=_device_flash)

    fw = commands.add_parser("firmware", help="update dials over the air: releases, rollouts")
    fw_commands = fw.add_subparsers(dest="firmware_command", required=True)
    release = fw_commands.add_parser(
        "release", help="store the firmware of this checkout (or --from DIR) as a release"
    )
    release.add_argument(
        "--version",
        help="the release's version (default: FIRMWARE_VERSION in dialcore/__init__.py, "
        "which it must equal)",
    )
    release.add_argument(
        "--from",
        dest="source",
        type=Path,
        default=provision.FIRMWARE,
        metavar="DIR",
        help="the firmware folder, holding board/ and dialcore/ (default: this checkout's)",
    )
    release.set_defaults(func=_firmware_release)
    rollout = fw_commands.add_parser("rollout", help="order dials to update to a release")
    rollout.add_argument("version")
    which = rollout.add_mutually_exclusive_group(required=True)
    which.add_argument("--device", action="append", metavar="ID", help="a dial (repeatable)")
    which.add_argument(
        "--percent",
        type=int,
        metavar="N",
        help="N %% of the fleet, chosen by device id: raising N later only adds dials",
    )
    rollout.set_defaults(func=_firmware_rollout)
    stop = fw_commands.add_parser(
        "stop", help="withdraw a release from the dials not yet running it"
    )
    stop.add_argument("version")
    stop.set_defaults(func=_firmware_stop)
    fw_commands.add_parser(
        "list", aliases=["status"], help="releases, and each dial's version, target and update"
    ).set_defaults(func=_firmware_list)
    return top


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for chatty in ("iotcore", "alembic"):  # iotcore repeats our broker lines; alembic: per step
        logging.getLogger(chatty).setLevel(logging.WARNING)
    args.func(args, get_settings())
