"""The OpenSCAD enclosure: its parameters, and rendering it with the openscad command.

Debian packages: openscad renders STL anywhere; a PNG needs an OpenGL context, which on a
machine without a screen comes from a virtual X server (xvfb, xauth) with Mesa's software
renderer (libgl1-mesa-dri): we run `xvfb-run -a openscad ...` when DISPLAY is not set.
"""

import os
import re
import shutil
import subprocess

from hardware.tools import DOCS_IMG, HARDWARE

SCAD = HARDWARE / "enclosure.scad"
# The pictures in hardware/README.md: file name -> parameters and camera. Without a
# camera openscad looks from the front right, above; 235 degrees shows the floor.
RENDERS = {
    "hardware-enclosure.png": ({"part": "assembly"}, None),
    "hardware-enclosure-wall-mount.png": (
        {"part": "base", "wall_mount": True},
        "0,0,0,235,0,25,0",
    ),
}
IMAGE_SIZE = "1000,750"


class OpenScadError(RuntimeError):
    """openscad failed or warned; the message is its output."""


def param(name):
    """A number set at the top of enclosure.scad, e.g. param("label_d") -> 64.0."""
    found = re.search(rf"^{name} = ([0-9.]+);", SCAD.read_text(), re.MULTILINE)
    if found is None:
        raise KeyError(f"{name} is not a plain number in {SCAD.name}")
    return float(found.group(1))


def _define(name, value):
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, str):
        value = f'"{value}"'
    return ["-D", f"{name}={value}"]


def render(output, defines=None, camera=None):
    """Render enclosure.scad to output (.stl or .png) with -D defines.

    Raises OpenScadError on an error and on any warning (--hardwarnings stops at the
    first one; the manifold check of an export is only reported, so we look for it).
    """
    binary = shutil.which("openscad")
    if binary is None:
        raise OpenScadError("openscad not found: apt-get install openscad")
    command = [binary, "--hardwarnings", "-o", str(output)]
    for name, value in (defines or {}).items():
        command += _define(name, value)
    if str(output).endswith(".png"):
        command += [
            "--imgsize",
            IMAGE_SIZE,
            "--viewall",
            "--autocenter",
            "--colorscheme",
            "Tomorrow",
        ]
        if camera:
            command += ["--camera", camera]
        if not os.environ.get("DISPLAY"):
            xvfb = shutil.which("xvfb-run")
            if xvfb is None:
                raise OpenScadError("a PNG needs a display: apt-get install xvfb xauth")
            command = [xvfb, "-a", *command]
    command.append(str(SCAD))
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    log = done.stdout + done.stderr
    if done.returncode != 0 or "WARNING" in log or "ERROR" in log:
        raise OpenScadError(f"{' '.join(command)} failed ({done.returncode}):\n{log}")


def render_docs(directory=DOCS_IMG):
    """The pictures for the README."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, (defines, camera) in RENDERS.items():
        render(directory / name, defines, camera)
