"""The `shelter-signal` command: one subcommand per part of the system."""

import argparse
import asyncio
import logging
from pathlib import Path

from server.settings import get_settings


def _run(args: argparse.Namespace) -> None:
    from server.runner import serve

    asyncio.run(serve(get_settings(), demo=not args.no_demo, state_dir=args.state_dir))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="shelter-signal",
        description="Real-time shelter capacity. Settings: SIGNAL_* (docs/operations.md).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run", help="broker (unless SIGNAL_MQTT_URL), ingestor, API, map and demo"
    )
    run.add_argument(
        "--no-demo", action="store_true", help="no invented shelters or simulated dials"
    )
    run.add_argument(
        "--state-dir",
        type=Path,
        default=Path("var/sim"),
        help="where simulated dials keep their flash",
    )
    run.set_defaults(func=_run)

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for chatty in ("amqtt", "transitions", "alembic"):  # their INFO is a line per packet or step
        logging.getLogger(chatty).setLevel(logging.WARNING)
    args.func(args)
