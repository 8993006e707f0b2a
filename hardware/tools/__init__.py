"""Generators for the build kit in hardware/: run them from the repository root with the venv.

    .venv/bin/python -m hardware.tools.build           # every generated file, and the README tables
    .venv/bin/python -m hardware.tools.build --renders # also the OpenSCAD renders (needs openscad)
    .venv/bin/python -m hardware.tools.bom             # the bill of materials and its total
    .venv/bin/python -m hardware.tools.dial_face --capacity 40 -o face.svg
    .venv/bin/python -m hardware.tools.card --contact "Sam, 416-555-0199" -o card.svg

The data they read is in hardware/*.csv and hardware/enclosure.scad; tests/hardware fails
when a generated file or README table no longer matches its data.
"""

from pathlib import Path

HARDWARE = Path(__file__).resolve().parent.parent
ROOT = HARDWARE.parent
DOCS_IMG = ROOT / "docs" / "img"
