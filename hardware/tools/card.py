"""The desk card: one printable page for front-desk staff (half letter, landscape).

    .venv/bin/python -m hardware.tools.card --contact "Sam (IT volunteer), 416-555-0199" -o card.svg

How to turn and press, what every line at the bottom of the screen means and what the
LED does then, and who to call. The screen texts are the firmware's own (dialcore
display states, tested against it); times and LED patterns are read from the firmware.
Without --contact the card leaves a line to write a name and number on.
"""

import argparse
import sys
import textwrap

from firmware.dialcore import display
from hardware.tools import firmware_facts, svg
from server.settings import Settings

WIDTH, HEIGHT = 215.9, 139.7  # mm: half a letter sheet, landscape
MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"
CHAR_W = 0.52  # average sans-serif character width, in font sizes, for wrapping lines
LED_WORDS = {"solid": "steady", "slow": "slow blink", "fast": "fast blink", "off": "off"}
ADDS = {"occupied": "one more person in", "free": "one more free bed"}
MOCK_X = 140  # mm: the screen sketch (38 mm) and its notes (about 20 mm) end by the margin


def _minutes_until_aging():
    return Settings.model_fields["fresh_minutes"].default


def screen_lines(mode="occupied"):
    """(what the bottom line says, display state or None, what it means and what to do).

    State None: a whole-screen notice from firmware/main.py (the dial is not counting),
    not a display state.
    """
    settle = firmware_facts.settle_seconds()
    aging = _minutes_until_aging()
    return [
        (
            "release to save",
            display.EDITING,
            f"You are turning. Stop: {settle:g} seconds later it saves.",
        ),
        ("sending...", display.SENDING, "On its way to the server. Wait a moment."),
        ("SAVED", display.SAVED, "The map shows this count. Done."),
        ("ready", display.READY, "Connected, no count yet: turn to today's count."),
        (
            "OFFLINE 5 min",
            display.OFFLINE,
            "No connection. Keep counting: the dial sends when it is back. "
            f"Still offline after {aging} min? Call.",
        ),
        (
            "NOT SAVED: ...",
            display.REJECTED,
            "The server refused this count, for the reason shown. Check the number and "
            "turn again; if it happens again, call.",
        ),
        ("WI-FI SETUP", None, "The dial has no settings yet. Call."),
        ("CONFIG ERROR", None, "Its settings are wrong (the screen says which). Call."),
        ("SAFE MODE", None, "It kept restarting and now only says it is alive. Call."),
        ("MAINTENANCE", None, "The knob was held while it started: unplug, plug in, hands off."),
    ]


# Whole-screen notices and their LED, as firmware/main.py sets them.
NOTICE_LED = {
    "WI-FI SETUP": "fast",
    "CONFIG ERROR": "fast",
    "SAFE MODE": "fast",
    "MAINTENANCE": "off",
}


def _led(shown, state):
    pattern = firmware_facts.led_patterns()[state] if state else NOTICE_LED[shown]
    return LED_WORDS[pattern]


def _paragraph(x, y, words, width_mm, size, line_gap=1.35, **attrs):
    """Wrapped lines of text; returns (elements, y below the last line)."""
    lines = textwrap.wrap(words, max(10, int(width_mm / (size * CHAR_W))))
    out = []
    for line in lines:
        out.append(svg.text(x, y, line, font_size=size, **attrs))
        y += size * line_gap
    return out, y


def _mock_screen(x, y):
    """A sketch of the 128 x 64 screen, 0.3 mm a pixel, with its lines named."""
    px = 0.3
    body = [
        svg.tag(
            "rect",
            x=x - 1.5,
            y=y - 1.5,
            width=128 * px + 3,
            height=64 * px + 3,
            rx=1.5,
            fill="#333",
        ),
        svg.tag("rect", x=x, y=y, width=128 * px, height=64 * px, fill="#000"),
    ]
    rows = (  # (pixel row, text, size in pixels, note)
        (0, "Maple House", 8, "shelter"),
        (8, "Men", 8, "program"),
        (19, "12", 24, "the count"),
        (46, "of 40  28 free", 8, "capacity, free"),
        (56, "SAVED", 8, "did it save?"),
    )
    for row, words, size, note in rows:
        baseline = y + (row + size * 0.85) * px
        body.append(
            svg.text(
                x + 64 * px,
                baseline,
                words,
                font_size=size * px * 0.95,
                font_family=MONO,
                fill="#fff",
                text_anchor="middle",
                style="white-space: pre",
            )
        )
        body.append(
            svg.text(
                x + 128 * px + 4,
                y + (row + size / 2 + 2) * px,
                f"\u2190 {note}",
                font_size=2.6,
                fill="#444",
            )
        )
    return body


def svg_text(contact="", mode="occupied"):
    if mode not in ADDS:
        raise ValueError(f"mode must be one of {', '.join(ADDS)}, not {mode!r}")
    settle = firmware_facts.settle_seconds()
    hold = firmware_facts.long_press_ms() / 1000
    held = firmware_facts.hold_gesture_ms() / 1000
    body = [
        svg.tag(
            "rect",
            x=0.5,
            y=0.5,
            width=WIDTH - 1,
            height=HEIGHT - 1,
            fill="#fff",
            stroke="#bbb",
            stroke_width=0.3,
            stroke_dasharray="2 2",
        ),
        svg.text(10, 15, "The bed-count dial", font_size=7, font_weight="bold"),
        svg.text(
            10,
            21.5,
            "Shelter Signal \u00b7 keep this card next to the dial",
            font_size=3.2,
            fill="#555",
        ),
        svg.text(10, 32, "Change the count", font_size=4.4, font_weight="bold"),
    ]
    steps = (
        ("1", f"Turn right: +1 ({ADDS[mode]}). Turn left: \u22121."),
        ("2", f"Stop. {settle:g} seconds later it saves by itself."),
        ("3", "SAVED on the bottom line: the map shows your number."),
    )
    y = 40
    for number, words in steps:
        body.append(svg.tag("circle", cx=13, cy=y - 1.2, r=2.6, fill="#1f77b4"))
        body.append(
            svg.text(
                13, y, number, font_size=3.4, fill="#fff", text_anchor="middle", font_weight="bold"
            )
        )
        lines, y = _paragraph(18, y, words, 76, 3.4)
        body += lines
        y += 1  # tight: the bullets below must clear the footer
    extras = (
        "Press the knob: saves now, also unchanged (the map shows it is still right); "
        "with several programs, then shows the next.",
        f"Hold the knob {hold:g} s: sends the count again and shows how it is connected.",
        "Turned someone away? Hold the knob, click right: no bed; left: not eligible.",
        f"1 HELD on top and the person is here? Hold the knob {held:g} s until their code "
        "shows, then click right: arrived (counted in); left: release the place.",
        "CLOSED in place of the count: that program is not open now; it counts nothing there.",
        "Unplugging is safe: the dial keeps its count.",
    )
    for words in extras:
        body.append(svg.text(13, y, "\u2022", font_size=3.2, text_anchor="middle"))
        lines, y = _paragraph(18, y, words, 76, 3.0)
        body += lines
        y += 0.8
    body += _mock_screen(MOCK_X, 7)  # top right, beside the title

    x = 100
    body.append(svg.text(x, 32, "What the screen says", font_size=4.4, font_weight="bold"))
    body.append(svg.text(x, 38, "screen", font_size=2.8, fill="#555"))
    body.append(svg.text(x + 30, 38, "light", font_size=2.8, fill="#555"))
    body.append(svg.text(x + 46, 38, "what it means", font_size=2.8, fill="#555"))
    y = 43.5
    for shown, state, meaning in screen_lines(mode):
        alert = state in (display.OFFLINE, display.REJECTED) or state is None
        body.append(
            svg.text(
                x,
                y,
                shown,
                font_size=2.9,
                font_family=MONO,
                font_weight="bold",
                fill="#b00" if alert else "#000",
            )
        )
        body.append(svg.text(x + 30, y, _led(shown, state), font_size=2.8))
        lines, end = _paragraph(x + 46, y, meaning, WIDTH - 10 - x - 46, 2.8, line_gap=1.3)
        body += lines
        y = end + 1.2

    footer = HEIGHT - 7  # the "who to call" line, under a rule across the card
    rule = {"stroke": "#ccc", "stroke_width": 0.3}
    body.append(svg.tag("line", x1=10, y1=footer - 7, x2=WIDTH - 10, y2=footer - 7, **rule))
    body.append(svg.text(10, footer, "Who to call:", font_size=4, font_weight="bold"))
    if contact:
        body.append(svg.text(38, footer, contact, font_size=4))
    else:
        write_in = {"stroke": "#000", "stroke_width": 0.3}
        body.append(
            svg.tag("line", x1=38, y1=footer + 0.5, x2=WIDTH - 10, y2=footer + 0.5, **write_in)
        )
    return svg.document(WIDTH, HEIGHT, body, unit="mm", title="The bed-count dial: desk card")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m hardware.tools.card", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--contact", default="", help="who to call, with a phone number")
    parser.add_argument(
        "--mode",
        default="occupied",
        choices=sorted(ADDS),
        help="what the dial counts, as in `device add --mode`",
    )
    parser.add_argument("-o", "--output", type=argparse.FileType("w"), default=sys.stdout)
    args = parser.parse_args(argv)
    args.output.write(svg_text(args.contact, args.mode))


if __name__ == "__main__":
    main()
