"""Regenerate everything in hardware/ that is made from data, and the README's tables.

    .venv/bin/python -m hardware.tools.build            # SVGs and README tables
    .venv/bin/python -m hardware.tools.build --renders  # and docs/img/hardware-*.png (openscad)

tests/hardware fails when a committed file differs from what this would write.
"""

import argparse
import re

from hardware.tools import HARDWARE, bom, card, dial_face, enclosure, wires, wiring_diagram

README = HARDWARE / "README.md"
EXAMPLE_CAPACITY = 40  # the dial face shown in the README


def generated_files():
    """{path: text} of every generated file."""
    return {
        HARDWARE / "wiring.svg": wiring_diagram.svg_text(),
        HARDWARE / "dial-face.svg": dial_face.svg_text(EXAMPLE_CAPACITY),
        HARDWARE / "quick-reference.svg": card.svg_text(),
    }


def sections():
    """{name: Markdown} of the README's generated sections."""
    return {
        "bom": bom.markdown(bom.load()),
        "wiring": wires.wiring_table(wires.load()),
        "avoided-pins": wires.avoided_table(),
    }


def _pattern(name):
    return re.compile(
        rf"(<!-- generated: {name} -->\n)(.*?)(<!-- end generated: {name} -->)", re.DOTALL
    )


def section(text, name):
    """The current content of a generated section of the README text."""
    found = _pattern(name).search(text)
    if found is None:
        raise KeyError(f"no generated section {name!r} in {README}")
    return found.group(2)


def with_sections(text):
    """The README text with every generated section rewritten from the data."""
    for name, content in sections().items():
        section(text, name)  # raises if the markers are missing
        text = _pattern(name).sub(lambda m, c=content: m.group(1) + c + "\n" + m.group(3), text)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m hardware.tools.build", description=__doc__)
    parser.add_argument("--renders", action="store_true", help="also the OpenSCAD renders")
    args = parser.parse_args(argv)
    for path, text in generated_files().items():
        path.write_text(text)
        print(f"wrote {path}")
    README.write_text(with_sections(README.read_text()))
    print(f"updated the tables in {README}")
    if args.renders:
        enclosure.render_docs()
        print(f"rendered {', '.join(enclosure.RENDERS)}")


if __name__ == "__main__":
    main()
