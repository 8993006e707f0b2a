"""The printable dial face: a ring around the knob, at true size, for one program's capacity.

    .venv/bin/python -m hardware.tools.dial_face --capacity 40 -o face.svg

An EC11 encoder turns endlessly and reports clicks, not positions, so a printed scale
cannot point at a count (the screen shows the count). What the face shows instead is
how far a turn goes: one tick per click, numbers every five clicks, the direction that
adds, and how many turns take the dial from empty to this capacity. Its size comes from
enclosure.scad (label_d, knob_d, shaft_hole_d), so it fits the printed lid.
"""

import argparse
import math
import sys
from fractions import Fraction

from hardware.tools import enclosure, svg

DETENTS = 20  # clicks per turn of the EC11 in bom.csv (board/encoder.py counts one per click)
NUMBER_EVERY = 5  # a number every five clicks: countable at a glance, not crowded
MARGIN = 8  # mm of paper around the face, for cutting
CHECK_BAR_MM = 50  # printed to measure: if it is not 50 mm, the print was scaled
ADDS = {"occupied": "one more in", "free": "one more free"}  # what a click to the right means


def turns_text(capacity, detents=DETENTS):
    """How far from empty to full: "12 clicks" under a turn, else turns in quarters."""
    if capacity <= detents:
        return f"{capacity} click" + ("" if capacity == 1 else "s")
    quarters = round(Fraction(capacity, detents) * 4)
    whole, part = divmod(quarters, 4)
    fraction = {0: "", 1: "\u00bc", 2: "\u00bd", 3: "\u00be"}[part]
    amount = f"{whole}{fraction}" if whole else fraction
    exact = "" if Fraction(capacity, detents) * 4 == quarters else "about "
    return f"{exact}{amount} turn" + ("" if quarters == 4 else "s")


def _polar(cx, cy, radius, clicks, detents):
    """The point at `clicks` clockwise from 12 o'clock."""
    angle = 2 * math.pi * clicks / detents
    return cx + radius * math.sin(angle), cy - radius * math.cos(angle)


def _arc_path(cx, cy, radius, start, end, detents, sweep=1):
    x1, y1 = _polar(cx, cy, radius, start, detents)
    x2, y2 = _polar(cx, cy, radius, end, detents)
    return f"M{x1:.2f} {y1:.2f} A{radius} {radius} 0 0 {sweep} {x2:.2f} {y2:.2f}"


def svg_text(capacity, mode="occupied", detents=DETENTS):
    if capacity < 1:
        raise ValueError(f"capacity must be at least 1, not {capacity}")
    if mode not in ADDS:
        raise ValueError(f"mode must be one of {', '.join(ADDS)}, not {mode!r}")
    diameter = enclosure.param("label_d")
    knob = enclosure.param("knob_d")
    hole = enclosure.param("shaft_hole_d")
    outer = diameter / 2
    inner = knob / 2 + 0.5  # ticks start just outside the knob's edge
    width = diameter + 2 * MARGIN
    height = width + 16  # room for the check bar
    cx = cy = width / 2
    body = [
        svg.tag(
            "circle",
            cx=cx,
            cy=cy,
            r=outer,
            fill="#fff",
            stroke="#999",
            stroke_width=0.2,
            stroke_dasharray="1 1",
        ),
        svg.tag("circle", cx=cx, cy=cy, r=hole / 2, fill="none", stroke="#999", stroke_width=0.2),
    ]
    for click in range(detents):
        major = click % NUMBER_EVERY == 0
        x1, y1 = _polar(cx, cy, inner, click, detents)
        x2, y2 = _polar(cx, cy, inner + (4 if major else 2.5), click, detents)
        body.append(
            svg.tag(
                "line",
                x1=x1,
                y1=y1,
                x2=x2,
                y2=y2,
                stroke="#000",
                stroke_width=0.6 if major else 0.35,
            )
        )
        if major:
            x, y = _polar(cx, cy, inner + 7, click, detents)
            body.append(
                svg.text(
                    x,
                    y + 1.1,
                    click or detents,
                    font_size=3.2,
                    font_weight="bold",
                    text_anchor="middle",
                )
            )
    # Words along the outer band: what a click to the right does, and how far full is.
    # Each arc spans 144 degrees (an SVG arc flagged "small" must stay under 180); letters
    # stand on the top arc's outside and hang from the bottom arc's inside, so the
    # bottom one runs a little further out.
    span = detents * 0.2
    body.append(
        svg.tag(
            "path", id="top", fill="none", d=_arc_path(cx, cy, outer - 3.6, -span, span, detents)
        )
    )
    body.append(
        svg.tag(
            "path",
            id="bottom",
            fill="none",
            d=_arc_path(
                cx, cy, outer - 1.4, detents / 2 + span, detents / 2 - span, detents, sweep=0
            ),
        )
    )
    top = f"turn right \u2192 +1: {ADDS[mode]}"
    bottom = f"1 click = 1 \u00b7 0 to {capacity}: {turns_text(capacity, detents)}"
    body.append(svg.text_on_path("top", top, font_size=2.8))
    body.append(svg.text_on_path("bottom", bottom, font_size=2.8))
    bar_y = width + 6
    body += [
        svg.tag(
            "line",
            x1=MARGIN,
            y1=bar_y,
            x2=MARGIN + CHECK_BAR_MM,
            y2=bar_y,
            stroke="#000",
            stroke_width=0.4,
        ),
        svg.text(
            MARGIN,
            bar_y + 5,
            f"this line is {CHECK_BAR_MM} mm when printed at 100 %",
            font_size=2.8,
        ),
    ]
    title = f"Shelter Signal dial face: capacity {capacity}, {mode}"
    return svg.document(width, height, body, unit="mm", title=title)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m hardware.tools.dial_face", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--capacity",
        type=int,
        required=True,
        help="the program's capacity (several channels: the largest)",
    )
    parser.add_argument(
        "--mode",
        default="occupied",
        choices=sorted(ADDS),
        help="what the dial counts, as in `device add --mode`",
    )
    parser.add_argument("-o", "--output", type=argparse.FileType("w"), default=sys.stdout)
    args = parser.parse_args(argv)
    try:
        args.output.write(svg_text(args.capacity, args.mode))
    except ValueError as e:
        parser.error(str(e))


if __name__ == "__main__":
    main()
