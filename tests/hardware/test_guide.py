"""hardware/README.md, followed: a dial registered the guide's way shows up live on the API.

The registration is the real `shelter-signal device add` command, as in step 3; the broker
is Mosquitto configured as in step 4 with the files that command wrote; the dial is its
simulated twin (step 5): the firmware's own App, connecting with the device_config.json
the command wrote, against the whole system (ingestor and API, tests/support/stack.py).
"""

import asyncio
import os
import re
import shlex
import subprocess
import sys

import httpx
from sqlmodel import Session

from firmware.dialcore.app import App
from firmware.dialcore.store import Store
from hardware.tools import HARDWARE, card, dial_face
from server import provision
from server.cli import parser
from server.db import make_engine, migrate
from server.models import Device, Program, Sector, Site
from server.simulator.host_transport import HostTransport
from tests.hardware.mosquitto_setup import GuideBroker
from tests.support.stack import Stack, settings_for
from tests.support.waiting import scaled, wait_until

GUIDE = (HARDWARE / "README.md").read_text()


def _guide_commands(prefix):
    """Every line of the guide's code blocks that starts with prefix."""
    found, in_block = [], False
    for line in GUIDE.splitlines():
        if line.startswith("```"):
            in_block = not in_block
        elif in_block and line.startswith(prefix):
            found.append(line)
    return found


def test_every_shelter_signal_command_in_the_guide_is_one_the_cli_takes():
    commands = _guide_commands("shelter-signal ")
    assert len(commands) >= 6  # device add (3), simulate, device flash (2)
    for line in commands:
        parser().parse_args(shlex.split(line)[1:])  # argparse exits on anything it refuses


def test_the_guides_dial_face_and_card_commands_make_their_files(tmp_path):
    tools = {"dial_face": dial_face, "card": card}
    lines = _guide_commands(".venv/bin/python -m hardware.tools.")
    used = set()
    for line in lines:
        words = shlex.split(line)
        name = words[2].rsplit(".", 1)[1]
        if name not in tools:
            continue  # bom and build: run by their own tests
        out = tmp_path / f"{name}.svg"
        arguments = words[3:]
        arguments[arguments.index("-o") + 1] = str(out)
        tools[name].main(arguments)
        assert out.read_text().startswith("<?xml")
        used.add(name)
    assert used == set(tools)


class ConfiguredTransport(HostTransport):
    """The simulator's transport, logging in as the dial's device_config.json says.

    HostTransport takes no user name or password, so they are set on its paho client.
    """

    def __init__(self, config):
        url = f"mqtt://{config['mqtt_host']}:{config['mqtt_port']}"
        super().__init__(url, config["device_id"])
        self._client.username_pw_set(config["mqtt_user"], config["mqtt_password"])


def test_a_dial_registered_as_the_guide_says_shows_up_live(tmp_path):
    database = f"sqlite:///{tmp_path / 'signal.db'}"
    migrate(database)
    engine = make_engine(database)
    with Session(engine) as session:  # what `shelter-signal import` leaves behind
        site = Site(name="Maple House", address="1 Test St", lat=43.65, lon=-79.38)
        session.add(site)
        session.flush()
        session.add(Program(site_id=site.id, name="Men", sector=Sector.men, capacity=40))
        session.commit()
        site_id = site.id
    passwd = tmp_path / "broker" / "signal.passwd"
    broker = GuideBroker(passwd)  # its ports are chosen; it starts once the dial is added
    try:
        added = subprocess.run(
            [
                sys.executable, "-m", "server", "device", "add", "maple-desk",
                "--site", str(site_id), "--channel", "1:Men",
                "--wifi-ssid", "ShelterStaff", "--wifi-password", "staff-wifi-pass",
                "--mqtt-host", broker.host, "--mqtt-port", str(broker.port),
                "--mosquitto-passwd", str(passwd),
            ],
            capture_output=True, text=True, timeout=scaled(60), cwd=tmp_path,
            env={**os.environ, "SIGNAL_DATABASE_URL": database},
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        config = provision.read_config(tmp_path / "devices" / "maple-desk")
        assert f"shown only now): {config['mqtt_password']}" in added.stdout
        broker.start()
        with Stack(settings_for(database, broker.url)) as stack:
            dial = _start_twin(stack, config, tmp_path)
            try:
                wait_until(
                    lambda: stack.do(lambda: dial.config["version"]) > 0,
                    message="the twin got its config from the server",
                )
                stack.do(dial.turn, 7)
                stack.do(dial.press)
                site = wait_until(
                    lambda: _counted(stack, site_id, 7), message="the count on the API"
                )
                assert site["freshness"] == "fresh" and site["available"] == 33
                with Session(engine) as session:
                    assert session.get(Device, "maple-desk").status == "online"
            finally:
                stack.stop_dial(dial)
    finally:
        broker.close()
        engine.dispose()


def _start_twin(stack, config, tmp_path):
    async def start():
        store = Store(str(tmp_path / "twin-state.json"))
        app = App(config["device_id"], store, ConfiguredTransport(config), settle_ms=300)
        app.task = asyncio.create_task(app.run())
        return app

    return stack.call(start())


def _counted(stack, site_id, count):
    items = httpx.get(f"{stack.http}/api/v1/shelters").json()["items"]
    site = next((s for s in items if s["id"] == site_id), None)
    return site if site and site["occupied"] == count else None


def test_the_guide_states_the_repository_paths_it_uses():
    for path in re.findall(r"\]\(((?:\.\./)?[\w./-]+)\)", GUIDE):
        if not path.startswith("http"):
            assert (HARDWARE / path).resolve().exists(), path
