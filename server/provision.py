"""Getting a dial ready: its broker account, its device_config.json, its flash commands.

`shelter-signal device add` and `device flash` (server/cli.py) use this module; the steps
for people are in hardware/README.md. Each dial has its own folder (devices/<id>/ by
default) holding its device_config.json, the broker's CA certificate when TLS is used,
and flash/, the exact files that go onto the board. The folder holds passwords: it is
written for its owner only and must not be committed.

Nothing here talks to a board: flash_commands() builds the mpremote command lines, which
the CLI shows, and runs unless asked for a dry run.
"""

import functools
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import NamedTuple

from sqlmodel import Session, select

from firmware.dialcore import devconfig
from server import firmware, mpy
from server.models import DeviceChannel, Program, Site

FIRMWARE = Path(devconfig.__file__).resolve().parent.parent
CONFIG_NAME = "device_config.json"  # what firmware/main.py reads from the board's root
CA_NAME = "ca.der"
CA_ON_BOARD = CA_NAME  # relative to the flash's root, like every path the firmware opens
LOADER = "main.py"  # on the board as source; the packages it imports compiled (server/mpy.py)
# The libraries the firmware imports that MicroPython itself does not include, pinned to the
# commits the virtual dial's tests run (../shared/vendor/README.md): mqtt_as V0.8.3
# (board/transport.py) and micropython-lib's SSD1306 driver (board/screen.py). The firmware
# never imports mqtt_as's other files (range.py, range_ex.py, clean.py: demos).
MQTT_AS_COMMIT = "7b6a11dd7910f7bb8275341fdc24b89ed1dfbc47"
MICROPYTHON_LIB_COMMIT = "ee4bb8ff139e24c42b739935fbd8ec7c4d061e02"


class Library(NamedTuple):
    path: str  # under the board's lib/, where mip would put it
    repository: str  # on GitHub
    commit: str
    source: str  # the file's path in the repository
    sha256: str  # of the file at that commit: a copy from anywhere must be the same


LIBRARIES = (
    Library(
        "mqtt_as/__init__.py",
        "peterhinch/micropython-mqtt",
        MQTT_AS_COMMIT,
        "mqtt_as/__init__.py",
        "010df008248ecbc8cde5b653a1c5579f8e0bbf6959ca443364c845b9339d740e",
    ),
    Library(
        "mqtt_as/mqtt_v5_properties.py",
        "peterhinch/micropython-mqtt",
        MQTT_AS_COMMIT,
        "mqtt_as/mqtt_v5_properties.py",
        "453352d274b6c8c6f9d7d84796846e39e106708b1e4ca09e36262d8a9e6d95a6",
    ),
    Library(
        "ssd1306.py",
        "micropython/micropython-lib",
        MICROPYTHON_LIB_COMMIT,
        "micropython/drivers/display/ssd1306/ssd1306.py",
        "b9f5331c75297774bced61bdfd12c37d4363336d064d7cf58967c88d807efbe5",
    ),
)
GITHUB_FILES = "https://raw.githubusercontent.com"  # /<repository>/<commit>/<path>
# What `device flash` removes from a board first (MicroPython, run by `mpremote exec`): the
# code an earlier flash or update left. An old x.py would run instead of the new x.mpy
# (MicroPython imports x.py first), and while slot.json names an update's folder (app-*)
# main.py runs that copy. The dial's state (state.json: its boot counter, which never goes
# back), its crash series and its config stay.
CLEAR_OLD_CODE = """import os
def rm(p):
 try:
  os.remove(p)
 except OSError:
  try:
   for n in os.listdir(p):
    rm(p+'/'+n)
   os.rmdir(p)
  except OSError:
   pass
for p in os.listdir():
 if p in ('board','dialcore','slot.json','slot.json.tmp') or p.startswith('app-'):
  rm(p)
for p in ('lib/mqtt_as','lib/ssd1306.py','lib/ssd1306.mpy'):
 rm(p)"""
FETCH_S = 30  # per file; each is under 40 KB


class ProvisionError(Exception):
    """Something outside our control failed (a tool, a file); the message says what."""


def device_dir(devices_dir: Path, device_id: str) -> Path:
    return devices_dir / device_id


def site_choices(session: Session) -> str:
    """Every site, one a line, for picking --site (an operator's view: confidential too)."""
    lines = []
    for site in session.exec(select(Site).order_by(Site.name)):
        hidden = "  (confidential)" if site.confidential else ""
        lines.append(f"  {site.id:>6}  {site.name}{hidden}")
    return "\n".join(lines) or "  no sites yet: `shelter-signal import` the city's list first"


def program_choices(session: Session, site_id: int) -> str:
    """The site's programs, one a line, for picking --channel; says which are paired."""
    if session.get(Site, site_id) is None:
        raise ValueError(f"no site with id {site_id}")
    rows = session.exec(
        select(Program, DeviceChannel)
        .join(DeviceChannel, DeviceChannel.program_id == Program.id, isouter=True)
        .where(Program.site_id == site_id)
        .order_by(Program.id)
    )
    lines = []
    for program, pair in rows:
        paired = f"  (paired with {pair.device_id})" if pair else ""
        lines.append(
            f"  {program.id:>6}  {program.name}: {program.capacity} {program.capacity_type}{paired}"
        )
    return "\n".join(lines) or f"  site {site_id} has no programs"


def build_config(
    device_id: str,
    secret: str,
    wifi_ssid: str,
    wifi_password: str,
    mqtt_host: str,
    mqtt_port: int,
    tls: bool = False,
) -> dict:
    """The dial's complete device_config.json (defaults filled in) as the firmware reads it.

    Its MQTT user is its device id, its password the secret `device add` issued. Raises
    ValueError naming the key, from the firmware's own check (devconfig.load).
    """
    raw = {
        "device_id": device_id,
        "wifi_ssid": wifi_ssid,
        "wifi_password": wifi_password,
        "mqtt_host": mqtt_host,
        "mqtt_port": mqtt_port,
        "mqtt_user": device_id,
        "mqtt_password": secret,
        "mqtt_tls": tls,
        "mqtt_ca_file": CA_ON_BOARD if tls else None,
    }
    return devconfig.load(raw)


def _write_private(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, readable by the owner only (it holds secrets)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def write_config(folder: Path, config: dict) -> Path:
    path = folder / CONFIG_NAME
    _write_private(path, (json.dumps(config, indent=2) + "\n").encode())
    return path


def read_config(folder: Path) -> dict:
    """The dial's config, checked as the firmware checks it; ValueError if it won't do."""
    path = folder / CONFIG_NAME
    if not path.exists():
        raise ValueError(
            f"{path} is missing: `device add` with --wifi-ssid and --mqtt-host writes it "
            "(or flash with --code-only and set the dial up through its setup form)"
        )
    return devconfig.read(str(path))


def add_ca(folder: Path, ca_file: Path) -> Path:
    """Keep a copy of the broker's CA certificate (DER) for flashing; ValueError if unfit."""
    try:
        data = ca_file.read_bytes()
    except OSError as e:
        raise ValueError(f"--mqtt-ca {ca_file}: {e.strerror}") from None
    if data.lstrip().startswith(b"-----BEGIN"):
        raise ValueError(
            f"--mqtt-ca {ca_file} is PEM; the dial needs DER: "
            f"openssl x509 -in {ca_file} -outform der -out ca.der"
        )
    path = folder / CA_NAME
    _write_private(path, data)
    return path


def set_mosquitto_password(passwd_file: Path, user: str, secret: str) -> None:
    """Add or replace the user's entry in a Mosquitto password file (mosquitto_passwd -b).

    Mosquitto stores its own salted hash; the secret itself is written nowhere. The file
    is created when missing (-c would otherwise wipe the other dials' entries). With -b
    the secret is on mosquitto_passwd's command line for a moment, visible to `ps` on
    this machine: fine on the server's admin host; the prompting form needs a terminal.
    """
    binary = shutil.which("mosquitto_passwd")
    if binary is None:
        raise ProvisionError("mosquitto_passwd not found: apt-get install mosquitto")
    create = [] if passwd_file.exists() else ["-c"]
    passwd_file.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [binary, *create, "-b", str(passwd_file), user, secret],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if done.returncode != 0:
        raise ProvisionError(f"mosquitto_passwd: {(done.stderr or done.stdout).strip()}")


def library_files(vendor: Path | None = None) -> list[tuple[str, bytes]]:
    """(path under lib/, source) of each of LIBRARIES, at its pinned commit.

    From `vendor` when given: a folder laid out as ../shared/vendor is, each repository's
    files under a folder named as the repository (micropython-mqtt/mqtt_as/...); else
    fetched from GitHub. Raises ProvisionError if a file cannot be had, or is not the one
    pinned (its SHA-256).
    """
    return [(library.path, _library_file(library, vendor)) for library in LIBRARIES]


def _library_file(library: Library, vendor: Path | None) -> bytes:
    if vendor is not None:
        where = vendor / library.repository.split("/")[1] / library.source
        try:
            data = where.read_bytes()
        except OSError as e:
            raise ProvisionError(f"--vendor: cannot read {where}: {e.strerror}") from None
    else:
        where = f"{GITHUB_FILES}/{library.repository}/{library.commit}/{library.source}"
        data = _fetch(where)
    if hashlib.sha256(data).hexdigest() != library.sha256:
        raise ProvisionError(
            f"{where} is not {library.source} of {library.repository} at {library.commit} "
            "(its SHA-256 differs): a board gets exactly the libraries the tests ran"
        )
    return data


@functools.cache  # a file at a commit never changes: fetched once per process
def _fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=FETCH_S) as response:
            return response.read()
    # URLError and timeouts are OSErrors; a cut-off answer is an HTTPException
    except (OSError, ValueError, http.client.HTTPException) as e:
        raise ProvisionError(
            f"cannot fetch {url} ({e}); without internet, pass --vendor with a copy of the "
            "libraries (firmware/README.md, 'Installing the libraries and the firmware')"
        ) from None


def stage(
    folder: Path, vendor: Path | None = None, source: bool = False, config: bool = True
) -> Path:
    """Lay out in folder/flash exactly what goes onto the board, and return that path.

    The code (stage_code), then the config and, with TLS, the CA certificate; with `config`
    false the code alone, for a dial set up through its setup form. Raises ValueError if the
    config won't do, ProvisionError if a library cannot be had; the last flash folder is
    then left as it was.
    """
    settings = read_config(folder) if config else None
    if settings and settings["mqtt_tls"] and not (folder / CA_NAME).exists():
        raise ValueError(f"mqtt_tls is set but {folder / CA_NAME} is missing (--mqtt-ca)")
    flash, staging = folder / "flash", folder / "flash.new"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)  # it will hold the dial's passwords
    try:
        stage_code(staging, vendor, source)
        if settings:
            shutil.copy2(folder / CONFIG_NAME, staging / CONFIG_NAME)
            if settings["mqtt_tls"]:
                shutil.copy2(folder / CA_NAME, staging / CA_NAME)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(flash, ignore_errors=True)
    staging.rename(flash)
    return flash


def stage_code(flash: Path, vendor: Path | None = None, source: bool = False) -> None:
    """main.py, board/ and dialcore/ (compiled to .mpy unless `source`) and the libraries in
    lib/ (library_files, compiled too) written into the folder `flash`."""
    code = firmware.folder_sources(FIRMWARE)
    libraries = [(f"lib/{path}", data) for path, data in library_files(vendor)]
    if not source:
        code, libraries = mpy.compiled(code), mpy.compiled(libraries)
    for path, data in [(LOADER, (FIRMWARE / LOADER).read_bytes()), *code, *libraries]:
        (flash / path).parent.mkdir(parents=True, exist_ok=True)
        (flash / path).write_bytes(data)


def flash_commands(flash: Path, port: str = "auto") -> list[list[str]]:
    """The mpremote commands that clear the old code, copy the staged files and restart the
    board. port "auto" lets mpremote take the first USB serial board it finds.
    """
    mpremote = ["mpremote", "connect", port]
    folders = sorted(str(p) for p in flash.iterdir() if p.is_dir())
    files = sorted(str(p) for p in flash.iterdir() if p.is_file())
    return [
        [*mpremote, "exec", CLEAR_OLD_CODE],
        [*mpremote, "cp", "-r", *folders, ":"],
        [*mpremote, "cp", *files, ":"],
        [*mpremote, "reset"],
    ]
