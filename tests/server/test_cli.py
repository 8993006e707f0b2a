"""The console command, run as a newcomer runs it."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from server import firmware
from server.cli import Progress
from server.db import MIGRATIONS, make_engine
from server.models import Program, Sector, Site
from server.provision import FIRMWARE
from server.settings import Settings
from tests.support.services import free_port
from tests.support.waiting import scaled, wait_until


def run_env(tmp_path, **settings: str) -> dict:
    """The environment of `shelter-signal run` on a database and ports of its own."""
    env = {
        **os.environ,
        "SIGNAL_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "SIGNAL_HTTP_PORT": str(free_port()),
        "SIGNAL_BROKER_PORT": str(free_port()),
        "SIGNAL_INGEST_CLIENT_ID": f"run-{tmp_path.name}",
    }
    for name in ("SIGNAL_MQTT_URL", "SIGNAL_ADMIN_API_KEY"):
        env.pop(name, None)
    return {**env, **settings}


def start_run(tmp_path, env, *args: str, until: str) -> tuple[subprocess.Popen, str]:
    """`shelter-signal run ARGS` started, and what it printed up to a line holding `until`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "run", "--state-dir", str(tmp_path / "sim"), *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        if until in line:
            break
    return process, "".join(lines)


def stop_run(process: subprocess.Popen, within: float = 30) -> str:
    """Ctrl-C, then all it printed after the start; it must stop cleanly, `within` seconds."""
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=scaled(within))
    assert process.returncode == 0, out
    assert "Traceback" not in out, out
    return out


def test_run_starts_everything_with_a_demo_and_stops_on_ctrl_c(tmp_path):
    env = run_env(tmp_path, SIGNAL_DEMO_INTERVAL_SECONDS="0.2")
    http_port = env["SIGNAL_HTTP_PORT"]
    process, printed = start_run(tmp_path, env, until="Web dial: ")
    try:
        base = f"http://127.0.0.1:{http_port}"
        assert f"Map: {base}/" in printed
        assert f"Web dial: {base}/dial/web-demo   (demo secret: demo-secret)" in printed
        # a fresh admin key, marked as the demo's only, lets a newcomer pair a dial at once
        admin_key = re.search(r"^Admin key: (\S+) +\(DEMO ONLY", printed, re.MULTILINE)[1]
        assert len(admin_key) >= 32
        admin = {"Authorization": f"Bearer {admin_key}"}
        assert httpx.get(f"{base}/api/v1/api-keys", headers=admin).status_code == 200

        # the demo's one site without a hardware dial gets its count from the web dial
        staff = {"Authorization": "Bearer demo-secret"}
        channels = httpx.get(f"{base}/api/v1/dial/web-demo", headers=staff).json()["channels"]
        commit = {"counts": [1] * len(channels)}
        # The API waits up to 5 s for the broker and 5 s for the ingestor's ack
        # (server/webdial/send.py); httpx's own default of 5 s could give up first on a busy
        # machine.
        saved = httpx.post(
            f"{base}/api/v1/dial/web-demo/commits", json=commit, headers=staff, timeout=scaled(15)
        )
        assert saved.json()["result"] == "saved", saved.text

        def demo_counts():
            items = httpx.get(f"{base}/api/v1/shelters").json()["items"]
            return items if items and all(s["occupied"] is not None for s in items) else None

        sites = wait_until(demo_counts, timeout=20, message="every demo site has a count")
        assert all(s["freshness"] == "fresh" for s in sites)
        assert httpx.get(f"{base}/").text.startswith("<!DOCTYPE html>")
        # A map left open: its event stream never ends, yet Ctrl-C must still stop the server.
        stream = socket.create_connection(("127.0.0.1", http_port))
        stream.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
        assert stream.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        stop_run(process)
    again, printed = start_run(tmp_path, env, "--no-demo", until="Ctrl-C stops.")
    stop_run(again)
    assert "Admin key" not in printed  # the demo's only


def test_run_uses_the_broker_signal_mqtt_url_names(tmp_path, mosquitto):
    env = run_env(tmp_path, SIGNAL_MQTT_URL=mosquitto.url)
    with socket.create_server(("127.0.0.1", int(env["SIGNAL_BROKER_PORT"]))):  # taken
        process, printed = start_run(tmp_path, env, "--no-demo", until="Ctrl-C stops.")
        stop_run(process)
    assert f"Ingesting from {mosquitto.url} into sqlite" in printed
    assert "MQTT broker:" not in printed  # no embedded one


@pytest.mark.parametrize(
    ("taken", "hint"),
    [
        ("SIGNAL_HTTP_PORT", "."),
        ("SIGNAL_BROKER_PORT", ", or set SIGNAL_MQTT_URL to use the broker already running there."),
    ],
)
def test_run_names_the_port_in_use_and_its_setting(tmp_path, taken, hint):
    env = run_env(tmp_path)
    port = env[taken]
    with socket.create_server(("127.0.0.1", int(port))):
        done = subprocess.run(
            [sys.executable, "-m", "server", "run", "--no-demo"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=scaled(60),
        )
    assert done.returncode == 1
    assert done.stderr == (
        f"run: port {port} on 127.0.0.1 is already in use: something else listens there. "
        f"Stop it, or set {taken} to a free port{hint}\n"
    ), done.stderr


def test_the_largest_demo_starts_counts_every_dial_and_stops_within_seconds(tmp_path):
    """500 simulated dials (the most SIGNAL_DEMO_SITES allows) once needed 184 s to start
    and 12 minutes later had shown no count, and Ctrl-C took 2 minutes: paho's thread per
    dial waits in select(), which fails past socket 1024 (about 340 dials), the start waited
    10 s for every dial's config and then gave up, and the embedded broker (amqtt then)
    kept the event loop busy."""
    rules = Settings.model_fields["demo_sites"].metadata
    largest = next(rule.le for rule in rules if hasattr(rule, "le"))
    env = run_env(tmp_path, SIGNAL_DEMO_SITES=str(largest))
    process, _printed = start_run(tmp_path, env, until="Ctrl-C stops.")
    try:
        shelters = f"http://127.0.0.1:{env['SIGNAL_HTTP_PORT']}/api/v1/shelters"

        def every_dial_counted():
            items = httpx.get(shelters, timeout=scaled(10)).json()["items"]
            # every public site but the web dial's, which waits for someone at the web dial
            return sum(s["occupied"] is None for s in items) == 1

        wait_until(every_dial_counted, timeout=60, interval=1, message="every dial's count")
    finally:
        stop_run(process, within=10)


def test_device_add_pairs_programs_and_list_shows_it(session, command):
    site = Site(name="Cedar House")
    session.add(site)
    session.flush()
    session.add(Program(site_id=site.id, name="Beds", sector=Sector.women, capacity=12))
    session.commit()

    added = command("device", "add", "desk-01", "--site", "1", "--channel", "1:Women")
    assert added.returncode == 0, added.stderr
    again = command("device", "add", "desk-02", "--site", "1", "--channel", "1:Women")
    assert again.returncode == 1
    assert "program 1 is already paired with desk-01" in again.stderr
    listed = command("device", "list")
    assert "desk-01" in listed.stdout and "unknown" in listed.stdout


def test_export_writes_geojson_of_current_availability(command):
    done = command("export")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"type": "FeatureCollection", "features": []}


def test_migrate_brings_postgresql_to_the_newest_schema_then_exits(postgres):
    """What shelter-signal-migrate.service runs before any API or ingestor starts."""
    url = postgres.new_database("cli_migrate")
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    done = subprocess.run(
        [sys.executable, "-m", "server", "migrate"],
        env={**os.environ, "SIGNAL_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"database schema at revision {head}\n"
    engine = make_engine(url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
    engine.dispose()


def test_firmware_release_rollout_list_and_stop(command, site, tmp_path):
    done = command("firmware", "release")  # this checkout's firmware, its own version
    assert done.returncode == 0, done.stderr
    version = firmware.folder_version(FIRMWARE)
    assert done.stdout.startswith(f"release {version} stored: ")
    again = command("firmware", "release")
    assert again.returncode == 0 and "already stored, with the same files" in again.stdout
    shutil.copytree(FIRMWARE / "board", tmp_path / "board")
    shutil.copytree(FIRMWARE / "dialcore", tmp_path / "dialcore")
    (tmp_path / "board" / "led.py").write_text("# changed\n")
    changed = command("firmware", "release", "--from", str(tmp_path))
    assert changed.returncode == 1
    assert changed.stderr.strip() == (
        f"firmware release: version {version} is stored already, with other files"
    )
    other = command("firmware", "release", "--from", str(tmp_path), "--version", "9.0")
    assert other.returncode == 1 and "says FIRMWARE_VERSION" in other.stderr

    rolled = command("firmware", "rollout", version, "--device", "dial-01")
    assert rolled.returncode == 0, rolled.stderr
    assert rolled.stdout.startswith(f"{version} rolled out to 1 dial(s): dial-01")
    unknown = command("firmware", "rollout", version, "--device", "nobody")
    assert unknown.returncode == 1 and "no device nobody" in unknown.stderr
    listed = command("firmware", "list")
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if line.startswith("dial-01")]
    assert row.split() == ["dial-01", version]  # runs nothing known yet; its target
    assert command("firmware", "status").stdout == listed.stdout
    stopped = command("firmware", "stop", version)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.startswith(f"{version} stopped: withdrawn from 1 dial(s)")


def test_the_import_progress_bar_counts_against_the_files_rows(tmp_path, capsys):
    data = tmp_path / "nights.csv"
    data.write_text("header\n" + "a row\n" * 20_000)
    logged = Progress(data)  # pytest's stderr is no terminal: a line per 10,000 rows
    for rows in range(1, 20_001):
        logged(rows)
    logged.done()
    assert capsys.readouterr().err.splitlines() == [
        "10,000 of 20,000 rows read (50%)",
        "20,000 of 20,000 rows read (100%)",
    ]
    bar = Progress(data)
    bar.tty = True  # on a terminal: one line, redrawn in place, ended once done
    for rows in range(1, 10_001):
        bar(rows)
    bar.done()
    drawn = capsys.readouterr().err
    assert drawn.endswith("\r[" + "#" * 15 + " " * 15 + "]  50%  10,000 of 20,000 rows\n")
    assert drawn.count("\n") == 1
