"""deploy/systemd's units and deploy/shelter-signal.env.example, checked as systemd and the
server read them: `systemd-analyze verify` (it needs no running systemd), every command a
unit starts is one the CLI takes, and every setting named is a real one."""

import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from server.cli import parser
from server.settings import Settings
from tests.support.waiting import scaled

REPO = Path(__file__).resolve().parents[2]
SYSTEMD = REPO / "deploy" / "systemd"
ENV_EXAMPLE = REPO / "deploy" / "shelter-signal.env.example"
# Where docs/operations.md installs things on the server, and where they are here.
INSTALLED = {
    "/opt/shelter-signal/venv/bin/": f"{Path(sys.executable).parent}/",
    "/opt/shelter-signal/src/": f"{REPO}/",
}
DEBIAN_MOSQUITTO = Path("/lib/systemd/system/mosquitto.service")  # from Debian's mosquitto
UNITS = sorted(p.name for p in SYSTEMD.iterdir() if p.is_file())
# What to verify: a template through one of its instances.
INSTANCES = {
    "shelter-signal-ingest@.service": "shelter-signal-ingest@9101.service",
    "shelter-signal-api@.service": "shelter-signal-api@8001.service",
}
# The services that run Shelter Signal's own code (the reload service runs systemctl).
OURS = [n for n in UNITS if n.endswith(".service") and "broker-reload" not in n]
PER_INSTANCE = {
    "SIGNAL_HTTP_HOST",
    "SIGNAL_HTTP_PORT",
    "SIGNAL_INGEST_CLIENT_ID",
    "SIGNAL_INGEST_SHARED_GROUP",
    "SIGNAL_INGEST_METRICS_PORT",
}


def _entries(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A unit file's sections as (key, value) lists: keys such as Environment= repeat."""
    sections: dict[str, list[tuple[str, str]]] = {}
    entries: list[tuple[str, str]] = []
    for line in path.read_text().splitlines():
        if line.startswith("[") and line.endswith("]"):
            entries = sections.setdefault(line[1:-1], [])
        elif line and not line.startswith("#"):
            key, _, value = line.partition("=")
            entries.append((key, value))
    return sections


def _values(path: Path, section: str, key: str) -> list[str]:
    return [value for k, value in _entries(path).get(section, []) if k == key]


def _environment(path: Path) -> dict[str, str]:
    return dict(v.split("=", 1) for v in _values(path, "Service", "Environment"))


def test_systemd_analyze_verify_accepts_every_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze not found: apt-get install -y systemd"
    for name in UNITS:
        text = (SYSTEMD / name).read_text()
        for installed, here in INSTALLED.items():
            text = text.replace(installed, here)
        (tmp_path / name).write_text(text)
    # Debian's own unit for the broker, with our drop-in next to it as in /etc/systemd/system.
    shutil.copy(DEBIAN_MOSQUITTO, tmp_path)
    shutil.copytree(SYSTEMD / "mosquitto.service.d", tmp_path / "mosquitto.service.d")
    names = [INSTANCES.get(name, name) for name in UNITS] + ["mosquitto.service"]
    verified = subprocess.run(
        [analyze, "verify", "--man=no", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )
    # Unknown or misspelt keys are only warnings to systemd: any output fails the test.
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")


@pytest.mark.parametrize("name", OURS)
def test_every_unit_starts_a_real_command(name):
    [command] = _values(SYSTEMD / name, "Service", "ExecStart")
    program, *args = shlex.split(command)
    if program == "/opt/shelter-signal/venv/bin/shelter-signal":
        parser().parse_args(args)  # argparse exits on a command it does not take
    else:
        script = REPO / program.removeprefix("/opt/shelter-signal/src/")
        assert script.is_file() and script.stat().st_mode & stat.S_IXUSR, program


@pytest.mark.parametrize("name", OURS)
def test_every_service_runs_hardened_as_the_shelter_signal_user(name):
    service = dict(_entries(SYSTEMD / name)["Service"])
    assert (service["User"], service["Group"]) == ("shelter-signal", "shelter-signal")
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""  # no capabilities at all
    assert service["EnvironmentFile"] == "/etc/shelter-signal/shelter-signal.env"


@pytest.mark.parametrize("name", ["shelter-signal-api@.service", "shelter-signal-ingest@.service"])
def test_the_api_and_ingestors_start_only_after_the_one_migration(name):
    unit = SYSTEMD / name
    assert _values(unit, "Unit", "Requires") == ["shelter-signal-migrate.service"]
    assert "shelter-signal-migrate.service" in _values(unit, "Unit", "After")[0].split()
    [command] = _values(SYSTEMD / "shelter-signal-migrate.service", "Service", "ExecStart")
    assert command.endswith("shelter-signal migrate")


def test_each_ingestor_has_its_own_client_id_and_metrics_port_in_one_shared_group():
    environment = _environment(SYSTEMD / "shelter-signal-ingest@.service")
    assert environment["SIGNAL_INGEST_CLIENT_ID"].endswith("-%i")  # %i: the instance name
    assert environment["SIGNAL_INGEST_METRICS_PORT"] == "%i"
    assert environment["SIGNAL_INGEST_SHARED_GROUP"]


def test_each_api_process_listens_on_its_instance_port_on_loopback():
    environment = _environment(SYSTEMD / "shelter-signal-api@.service")
    assert environment == {"SIGNAL_HTTP_HOST": "127.0.0.1", "SIGNAL_HTTP_PORT": "%i"}


def test_every_setting_the_units_and_the_example_name_is_a_real_one():
    known = {f"SIGNAL_{name.upper()}" for name in Settings.model_fields}
    named = set()
    for name in UNITS:
        named |= set(_environment(SYSTEMD / name))
    example = _example()
    named |= {key for key in example if key.startswith("SIGNAL_")}
    assert named and named <= known, named - known
    assert not PER_INSTANCE & set(example), "the EnvironmentFile would override the units"


def test_the_example_environment_is_valid_and_holds_no_working_secret():
    example = _example()
    settings = Settings(
        _env_file=None,
        **{key.removeprefix("SIGNAL_").lower(): value for key, value in example.items()},
    )
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert "BROKER-PASSWORD" in settings.mqtt_url  # a placeholder, in capitals
    assert settings.admin_api_key is None  # no admin key that would work if left in


def _example() -> dict[str, str]:
    lines = ENV_EXAMPLE.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_the_timer_starts_the_backup_every_night():
    timer = dict(_entries(SYSTEMD / "shelter-signal-backup.timer")["Timer"])
    assert timer["OnCalendar"].startswith("*-*-* ") and timer["Persistent"] == "true"
    # A timer starts the service of its own name.
    assert (SYSTEMD / "shelter-signal-backup.service").exists()


def test_the_broker_drop_in_raises_the_open_file_limit():
    drop_in = SYSTEMD / "mosquitto.service.d" / "shelter-signal.conf"
    assert int(dict(_entries(drop_in)["Service"])["LimitNOFILE"]) >= 10_000


def test_a_changed_password_file_reloads_the_broker():
    [watched] = _values(SYSTEMD / "shelter-signal-broker-reload.path", "Path", "PathChanged")
    conf = (SYSTEMD.parent / "mosquitto" / "shelter-signal.conf").read_text()
    assert f"\npassword_file {watched}\n" in conf
    assert _example()["SIGNAL_MOSQUITTO_PASSWD_FILE"] == watched  # where the API writes
    assert _values(SYSTEMD / "shelter-signal-api@.service", "Service", "ReadWritePaths") == [
        f"-{Path(watched).parent}"
    ]
    [command] = _values(SYSTEMD / "shelter-signal-broker-reload.service", "Service", "ExecStart")
    assert command == "/bin/systemctl reload mosquitto.service"
