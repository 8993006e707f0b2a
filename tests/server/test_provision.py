"""Provisioning a dial: its config file, its broker account, its flash commands, and the CLI.

Everything but the USB transfer itself: the broker is a real Mosquitto with the files
`device add` writes, configured as hardware/README.md says; the password file is written
by the real mosquitto_passwd.
"""

import contextlib
import functools
import hashlib
import http.server
import io
import json
import shlex
import stat
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session, select

from firmware.dialcore import devconfig, protocol
from server import provision
from server.cli import main
from server.credentials import verify
from server.models import Device, DeviceChannel, Program, Sector, Site
from server.settings import get_settings
from tests.hardware.mosquitto_setup import BrokerClient, GuideBroker
from tests.support.virtual_dial import micropython
from tests.support.waiting import scaled, wait_until

SECRET = "s3cret-token-for-tests"

# The commits the virtual dial runs (../shared/vendor/README.md): a board gets exactly these.
MQTT_AS = "peterhinch/micropython-mqtt/7b6a11dd7910f7bb8275341fdc24b89ed1dfbc47"
MICROPYTHON_LIB = "micropython/micropython-lib/ee4bb8ff139e24c42b739935fbd8ec7c4d061e02"
LIBRARY_URLS = [  # below raw.githubusercontent.com
    f"{MQTT_AS}/mqtt_as/__init__.py",
    f"{MQTT_AS}/mqtt_as/mqtt_v5_properties.py",
    f"{MICROPYTHON_LIB}/micropython/drivers/display/ssd1306/ssd1306.py",
]
ON_BOARD = ["lib/mqtt_as/__init__", "lib/mqtt_as/mqtt_v5_properties", "lib/ssd1306"]


def stand_in(library: provision.Library) -> bytes:
    """A stand-in for a library's file (the real ones are not in the repository), saying
    which file it stands for."""
    return f"NAME = {library.path!r}\n".encode()


@pytest.fixture
def vendor(tmp_path, monkeypatch) -> Path:
    """A folder laid out as ../shared/vendor with stand-ins, pinned as the libraries are."""
    root = tmp_path / "vendor"
    pinned = []
    for library in provision.LIBRARIES:
        file = root / library.repository.split("/")[1] / library.source
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(stand_in(library))
        pinned.append(library._replace(sha256=hashlib.sha256(stand_in(library)).hexdigest()))
    monkeypatch.setattr(provision, "LIBRARIES", tuple(pinned))
    return root


def _config(**changes):
    values = {
        "device_id": "desk-01",
        "secret": SECRET,
        "wifi_ssid": "ShelterStaff",
        "wifi_password": "staff-wifi-pass",
        "mqtt_host": "signal.example.org",
        "mqtt_port": 1884,
    }
    return provision.build_config(**{**values, **changes})


def test_the_config_is_complete_and_what_the_firmware_accepts():
    config = _config()
    assert devconfig.load(config) == config
    assert (config["mqtt_user"], config["mqtt_password"]) == ("desk-01", SECRET)
    assert config["pins"] == {name: gpio for name, gpio, _ in devconfig.PINS}
    assert (config["mqtt_tls"], config["mqtt_ca_file"]) == (False, None)
    tls = _config(tls=True, mqtt_port=8883)
    assert (tls["mqtt_tls"], tls["mqtt_ca_file"]) == (True, "ca.der")


def test_a_bad_setting_is_refused_by_the_firmwares_own_check():
    with pytest.raises(ValueError, match=r"^wifi_password: must be 8-63 characters"):
        _config(wifi_password="short")
    with pytest.raises(ValueError, match=r"^mqtt_port: must be 1-65535"):
        _config(mqtt_port=0)


def test_the_config_file_is_private_and_reads_back(tmp_path):
    folder = provision.device_dir(tmp_path / "devices", "desk-01")
    path = provision.write_config(folder, _config())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert provision.read_config(folder) == _config()
    assert json.loads(path.read_text())["mqtt_password"] == SECRET


def test_a_missing_config_says_how_to_write_it(tmp_path):
    with pytest.raises(ValueError, match="is missing: `device add` with --wifi-ssid"):
        provision.read_config(tmp_path)


def test_the_ca_certificate_must_be_der(tmp_path):
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    with pytest.raises(ValueError, match="is PEM; the dial needs DER: openssl x509"):
        provision.add_ca(tmp_path / "dial", pem)
    der = tmp_path / "ca.der"
    der.write_bytes(b"\x30\x82\x01\x0a")  # a DER certificate starts with a SEQUENCE
    assert provision.add_ca(tmp_path / "dial", der).read_bytes() == b"\x30\x82\x01\x0a"
    with pytest.raises(ValueError, match="No such file"):
        provision.add_ca(tmp_path / "dial", tmp_path / "absent.der")


def test_mosquitto_passwd_entries_are_created_and_replaced(tmp_path):
    passwd = tmp_path / "etc" / "signal.passwd"
    provision.set_mosquitto_password(passwd, "desk-01", "first")
    provision.set_mosquitto_password(passwd, "desk-02", "second")
    before = dict(line.split(":", 1) for line in passwd.read_text().splitlines())
    provision.set_mosquitto_password(passwd, "desk-01", "third")
    after = dict(line.split(":", 1) for line in passwd.read_text().splitlines())
    assert sorted(after) == ["desk-01", "desk-02"]
    assert after["desk-02"] == before["desk-02"]
    assert after["desk-01"] != before["desk-01"]
    assert "first" not in passwd.read_text() and "third" not in passwd.read_text()


@pytest.mark.parametrize("source", [False, True])
def test_staging_lays_out_exactly_what_goes_on_the_board(tmp_path, vendor, source):
    folder = tmp_path / "desk-01"
    provision.write_config(folder, _config())
    flash = provision.stage(folder, vendor, source)
    on_board = sorted(str(p.relative_to(flash)) for p in flash.rglob("*") if p.is_file())
    suffix = ".py" if source else ".mpy"
    expected = ["device_config.json", "main.py", *(name + suffix for name in ON_BOARD)]
    for package in ("board", "dialcore"):
        modules = (provision.FIRMWARE / package).glob("*.py")
        expected += [f"{package}/{p.stem}{suffix}" for p in modules]
    assert on_board == sorted(expected)  # no __pycache__, no tests, no example config
    assert (flash / "device_config.json").read_bytes() == (
        folder / "device_config.json"
    ).read_bytes()
    assert (flash / "main.py").read_bytes() == (provision.FIRMWARE / "main.py").read_bytes()
    assert stat.S_IMODE(flash.stat().st_mode) == 0o700  # the config holds passwords
    assert stat.S_IMODE((flash / "device_config.json").stat().st_mode) == 0o600
    ssd1306 = (flash / "lib" / f"ssd1306{suffix}").read_bytes()
    if source:
        assert ssd1306 == b"NAME = 'ssd1306.py'\n"
    else:  # .mpy version 6, naming its source in tracebacks
        assert ssd1306.startswith(b"M\x06") and b"lib/ssd1306.py" in ssd1306


def test_staging_the_code_only_leaves_the_config_to_the_setup_form(tmp_path, vendor):
    folder = tmp_path / "devices" / "desk-01"  # `device add` without Wi-Fi made no folder
    flash = provision.stage(folder, vendor, config=False)
    on_board = {str(p.relative_to(flash)) for p in flash.iterdir()}
    assert on_board == {"board", "dialcore", "lib", "main.py"}
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_staging_with_tls_needs_and_copies_the_ca_certificate(tmp_path, vendor):
    folder = tmp_path / "desk-01"
    provision.write_config(folder, _config(tls=True))
    with pytest.raises(ValueError, match=r"mqtt_tls is set but .*ca\.der is missing"):
        provision.stage(folder, vendor)
    (tmp_path / "ca.der").write_bytes(b"\x30\x82")
    provision.add_ca(folder, tmp_path / "ca.der")
    assert (provision.stage(folder, vendor) / "ca.der").read_bytes() == b"\x30\x82"


def test_the_libraries_are_fetched_at_the_pinned_commits_or_named_when_they_cannot_be(
    vendor, tmp_path, monkeypatch
):
    """From GitHub's raw files (here a local HTTP server laid out as it is) at exactly the
    commits the tests run, and only if each is the file pinned (its SHA-256); a vendor folder
    that lacks one or holds another, or no network, says which."""
    served = tmp_path / "github"
    for url, library in zip(LIBRARY_URLS, provision.LIBRARIES, strict=True):
        (served / url).parent.mkdir(parents=True, exist_ok=True)
        (served / url).write_bytes(stand_in(library))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        monkeypatch.setattr(provision, "GITHUB_FILES", f"http://127.0.0.1:{server.server_port}")
        fetched = provision.library_files()
        server.shutdown()
    assert fetched == [(library.path, stand_in(library)) for library in provision.LIBRARIES]
    assert [f"lib/{path.removesuffix('.py')}" for path, _data in fetched] == ON_BOARD
    monkeypatch.setattr(provision, "GITHUB_FILES", "http://127.0.0.1:9/nothing-listens")
    with pytest.raises(provision.ProvisionError, match=r"cannot fetch .*pass --vendor"):
        provision.library_files()
    driver = vendor / "micropython-lib/micropython/drivers/display/ssd1306/ssd1306.py"
    driver.write_text("# edited\n")
    with pytest.raises(provision.ProvisionError, match=r"vendor/micropython-lib/.* SHA-256"):
        provision.library_files(vendor)
    driver.unlink()
    with pytest.raises(provision.ProvisionError, match=r"--vendor: cannot read .*ssd1306\.py"):
        provision.library_files(vendor)


def test_a_staging_that_fails_leaves_the_last_flash_folder_as_it_was(tmp_path, vendor):
    folder = tmp_path / "desk-01"
    provision.write_config(folder, _config())
    flash = provision.stage(folder, vendor)
    before = sorted(flash.rglob("*"))
    (vendor / "micropython-mqtt/mqtt_as/__init__.py").unlink()
    with pytest.raises(provision.ProvisionError, match="cannot read"):
        provision.stage(folder, vendor)
    assert sorted(flash.rglob("*")) == before
    assert sorted(p.name for p in folder.iterdir()) == ["device_config.json", "flash"]


def test_flash_commands_copy_the_staged_files_and_reset(tmp_path, vendor):
    folder = tmp_path / "desk-01"
    provision.write_config(folder, _config())
    flash = provision.stage(folder, vendor)
    connect = ["mpremote", "connect", "/dev/ttyUSB0"]
    folders = [str(flash / name) for name in ("board", "dialcore", "lib")]
    assert provision.flash_commands(flash, "/dev/ttyUSB0") == [
        [*connect, "exec", provision.CLEAR_OLD_CODE],
        [*connect, "cp", "-r", *folders, ":"],
        [*connect, "cp", str(flash / "device_config.json"), str(flash / "main.py"), ":"],
        [*connect, "reset"],
    ]


def test_a_reflash_clears_the_old_code_and_updates_and_keeps_the_dials_state(tmp_path):
    """Run on MicroPython itself, in a board's flash as an earlier source flash and an update
    left it: old .py files would win over the new .mpy ones, slot.json over the new code."""
    board = tmp_path / "board-flash"
    left = {
        "board/start.py": "", "dialcore/app.py": "", "dialcore/app.mpy": "",
        "lib/mqtt_as/__init__.py": "", "lib/ssd1306.py": "", "lib/other.py": "",
        "app-0.2.0/dialcore/app.mpy": "", "app-0.3.0.new/board/start.mpy.part": "",
        "slot.json": "{}", "state.json": '{"boot": 7}', "resets.json": "{}",
        "device_config.json": "{}", "ca.der": "", "main.py": "",
    }  # fmt: skip
    for path, text in left.items():
        (board / path).parent.mkdir(parents=True, exist_ok=True)
        (board / path).write_text(text)
    ran = subprocess.run(
        [micropython(), "-c", provision.CLEAR_OLD_CODE],
        cwd=board, capture_output=True, text=True, timeout=scaled(30),
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    kept = sorted(str(p.relative_to(board)) for p in board.rglob("*"))
    assert kept == [
        "ca.der", "device_config.json", "lib", "lib/other.py", "main.py", "resets.json",
        "state.json",
    ]  # fmt: skip
    assert (board / "state.json").read_text() == '{"boot": 7}'


# --------------------------------------------------------------------------- the broker


def test_a_dial_added_while_the_broker_runs_gets_in_after_a_reload(tmp_path):
    passwd = tmp_path / "signal.passwd"
    provision.set_mosquitto_password(passwd, "desk-01", "secret-one")
    with GuideBroker(passwd) as broker:
        provision.set_mosquitto_password(passwd, "desk-02", "secret-two")
        broker.reload()

        def desk_02_gets_in():
            attempt = BrokerClient(broker.port, "desk-02", "secret-two")
            if attempt.connected.is_failure:
                attempt.close()
                return None
            return attempt

        dial = wait_until(desk_02_gets_in, message="desk-02 accepted after the reload")
        try:
            assert not dial.publish(protocol.topic("desk-02", "state")).is_failure
        finally:
            dial.close()
        # Replacing an entry (a rotated secret) locks the old secret out after a reload.
        provision.set_mosquitto_password(passwd, "desk-01", "secret-rotated")
        broker.reload()

        def old_secret_refused():
            attempt = BrokerClient(broker.port, "desk-01", "secret-one")
            attempt.close()
            return attempt.connected.is_failure

        wait_until(old_secret_refused, message="desk-01's old secret refused after the reload")
        rotated = BrokerClient(broker.port, "desk-01", "secret-rotated")
        rotated.close()
        assert not rotated.connected.is_failure


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def fleet_db(session, database_url):
    """A database with a site of two programs and a confidential site; returns its env."""
    site = Site(name="Cedar House")
    session.add(site)
    session.add(Site(name="Safe Harbour", confidential=True))
    session.flush()
    for name, capacity in (("Women", 12), ("Families", 6)):
        session.add(Program(site_id=site.id, name=name, sector=Sector.women, capacity=capacity))
    session.commit()
    return {"SIGNAL_DATABASE_URL": database_url}


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def _cli(*args, env, cwd):
    """`shelter-signal device ...` in this process (the guide's test runs the real command)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SIGNAL_DATABASE_URL", env["SIGNAL_DATABASE_URL"])
        patch.chdir(cwd)
        get_settings.cache_clear()
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                main(["device", *args])
            code, message = 0, ""
        except SystemExit as e:  # sys.exit("message") leaves the message for stderr
            code, message = (1, e.code) if isinstance(e.code, str) else (e.code, "")
        finally:
            get_settings.cache_clear()
    return Ran(code, out.getvalue(), message)


def _device(engine, device_id):
    with Session(engine) as session:
        device = session.get(Device, device_id)
        session.expunge_all()
    return device


def test_device_add_lists_the_sites_then_the_programs_to_choose_from(fleet_db, tmp_path):
    sites = _cli("add", "desk-01", env=fleet_db, cwd=tmp_path)
    assert sites.returncode == 1
    assert "which site? Add --site" in sites.stderr
    assert "Cedar House" in sites.stderr and "Safe Harbour  (confidential)" in sites.stderr
    programs = _cli("add", "desk-01", "--site", "1", env=fleet_db, cwd=tmp_path)
    assert programs.returncode == 1
    assert "which programs does it count? Add --channel PROGRAM_ID:LABEL" in programs.stderr
    assert "1  Women: 12 beds" in programs.stderr and "2  Families: 6 beds" in programs.stderr
    nowhere = _cli("add", "desk-01", "--site", "9", env=fleet_db, cwd=tmp_path)
    assert "device add: no site with id 9" in nowhere.stderr


def test_device_add_issues_a_secret_and_writes_broker_files_and_config(fleet_db, engine, tmp_path):
    added = _cli(
        "add", "desk-01", "--site", "1", "--channel", "1:Women", "--channel", "2:Families",
        "--wifi-ssid", "ShelterStaff", "--wifi-password", "staff-wifi-pass",
        "--mqtt-host", "signal.example.org", "--mqtt-port", "1884",
        "--mosquitto-passwd", "broker/signal.passwd",
        env=fleet_db, cwd=tmp_path,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    config = provision.read_config(tmp_path / "devices" / "desk-01")
    secret = config["mqtt_password"]
    assert added.stdout.count(secret) == 1  # shown once
    assert verify(secret, _device(engine, "desk-01").secret_hash)
    assert (config["mqtt_host"], config["mqtt_port"], config["wifi_ssid"]) == (
        "signal.example.org", 1884, "ShelterStaff",
    )  # fmt: skip
    assert (tmp_path / "broker/signal.passwd").read_text().startswith("desk-01:$")
    assert "updated broker/signal.passwd: reload Mosquitto" in added.stdout
    with Session(engine) as session:
        pairs = session.exec(select(DeviceChannel).order_by(DeviceChannel.channel)).all()
        assert [(p.program_id, p.label) for p in pairs] == [(1, "Women"), (2, "Families")]
    listed = _cli("list", env=fleet_db, cwd=tmp_path)
    assert "desk-01" in listed.stdout and "unknown" in listed.stdout


def test_device_add_changes_nothing_when_a_setting_is_wrong(fleet_db, engine, tmp_path):
    bad = _cli(
        "add", "desk-01", "--site", "1", "--channel", "1:Women", "--wifi-ssid", "ShelterStaff",
        "--wifi-password", "short", "--mqtt-host", "signal.example.org",
        "--mosquitto-passwd", "signal.passwd", env=fleet_db, cwd=tmp_path,
    )  # fmt: skip
    assert bad.returncode == 1
    assert "device add: wifi_password: must be 8-63 characters" in bad.stderr
    assert _device(engine, "desk-01") is None
    assert not (tmp_path / "signal.passwd").exists()
    assert not (tmp_path / "devices").exists()
    half = _cli(
        "add", "desk-01", "--site", "1", "--channel", "1:Women", "--wifi-ssid", "Staff",
        env=fleet_db, cwd=tmp_path,
    )  # fmt: skip
    assert "--wifi-ssid and --mqtt-host go together" in half.stderr
    stray = _cli(
        "add", "desk-01", "--site", "1", "--channel", "1:Women", "--mqtt-port", "1884",
        env=fleet_db, cwd=tmp_path,
    )  # fmt: skip
    assert "add --wifi-ssid and --mqtt-host" in stray.stderr
    assert _device(engine, "desk-01") is None


def test_device_flash_dry_run_shows_the_commands_without_a_board(fleet_db, tmp_path, vendor):
    missing = _cli("flash", "desk-01", "--dry-run", env=fleet_db, cwd=tmp_path)
    assert missing.returncode == 1
    assert "device_config.json is missing: `device add` with --wifi-ssid" in missing.stderr
    provision.write_config(tmp_path / "devices" / "desk-01", _config())
    shown = _cli("flash", "desk-01", "--dry-run", "--port", "/dev/ttyUSB0", "--vendor", str(vendor),
                 env=fleet_db, cwd=tmp_path)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    flash = "devices/desk-01/flash"
    clear = shlex.join(["exec", provision.CLEAR_OLD_CODE])
    assert shown.stdout.splitlines()[1:] == [
        *f"mpremote connect /dev/ttyUSB0 {clear}".splitlines(),
        f"mpremote connect /dev/ttyUSB0 cp -r {flash}/board {flash}/dialcore {flash}/lib :",
        f"mpremote connect /dev/ttyUSB0 cp {flash}/device_config.json {flash}/main.py :",
        "mpremote connect /dev/ttyUSB0 reset",
    ]
    provision.write_config(tmp_path / "devices" / "desk-02", _config())  # desk-01's config
    mixed = _cli(
        "flash", "desk-02", "--dry-run", "--vendor", str(vendor), env=fleet_db, cwd=tmp_path
    )
    assert "holds the config of another dial" in mixed.stderr
    blank = _cli("flash", "desk-03", "--dry-run", "--code-only", "--vendor", str(vendor),
                 env=fleet_db, cwd=tmp_path)  # fmt: skip
    assert blank.returncode == 0, blank.stderr
    assert "the dial opens its setup Wi-Fi" in blank.stdout
    assert not (tmp_path / "devices" / "desk-03" / "flash" / "device_config.json").exists()
