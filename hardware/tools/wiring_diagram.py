"""hardware/wiring.svg: the ESP32-DevKitC, the three parts and every wire from pins.csv.

The board is drawn as seen from the component side, USB socket at the bottom, with its
38 header pins in their real order (wires.LEFT and wires.RIGHT). Each part sits beside
the header it connects to; wires run straight out of the header, along a vertical lane
and into the part. A wire from one header to a part on the other side goes round an end
of the board. Lanes are chosen by trying every order and keeping the one with the fewest
crossings (six wires a side at most: 720 orders).
"""

import functools
import itertools

from hardware.tools import svg, wires

WIDTH, HEIGHT = 940, 770
PITCH = 24  # px between header pins, drawn larger than the real 2.54 mm so labels fit
BOARD_X, BOARD_Y, BOARD_W = 355, 110, 230
FIRST_PIN_Y = BOARD_Y + 70  # room for the module's antenna above the first pin
LEFT_PIN_X, RIGHT_PIN_X = BOARD_X + 14, BOARD_X + BOARD_W - 14
CENTRE_X = BOARD_X + BOARD_W // 2
BOARD_H = 70 + 18 * PITCH + 36
LANE_GAP = 20  # px between neighbouring vertical wire lanes
FIRST_LANE = 40  # px from a header to its nearest lane
# Channels above and below the board for wires that cross to the other side.
CHANNELS = (BOARD_Y - 40, BOARD_Y - 24, BOARD_Y + BOARD_H + 24, BOARD_Y + BOARD_H + 40)

# Parts: where they stand and their pins in drawing order (top to bottom). A part's pins
# sit half a pitch off the header grid, so no wire's two horizontal runs share a line.
# "tip" is where a wire ends: the end of the pin's stub.
PARTS = {
    "Rotary encoder": {
        "x": 60,
        "tip": 210,
        "pins": ("A", "B", "SW", "SW2", "C"),
        "first": FIRST_PIN_Y + 6 * PITCH + PITCH // 2,
        "caption": (
            "EC11 seen from below:",
            "C is the middle one",
            "of A C B; SW2 is",
            "bridged to C",
        ),
    },
    "OLED screen": {
        "x": 760,
        "tip": 740,
        "pins": ("VCC", "GND", "SCL", "SDA"),
        "first": FIRST_PIN_Y + PITCH // 2,
        "caption": ("SSD1306, I2C.", "Pin order varies:", "go by the labels"),
    },
    "Status LED": {
        "x": 760,
        "tip": 740,
        "pins": ("-", "+"),
        "first": FIRST_PIN_Y + 9 * PITCH + PITCH // 2,
        "caption": ("5 mm LED, 330 ohm", "resistor on +"),
    },
}
PART_W = 140
BRIDGE = ("Rotary encoder", "SW2", "C")  # a short link soldered on the encoder itself
COLOURS = {  # the wire colours of pins.csv as drawn (white gets a dark outline like all)
    "red": "#d62728",
    "black": "#222222",
    "yellow": "#f2c80f",
    "green": "#2ca02c",
    "blue": "#1f77b4",
    "orange": "#ff7f0e",
    "purple": "#8e44ad",
    "white": "#ffffff",
}
FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"


def header_y(row):
    return FIRST_PIN_Y + (row - 1) * PITCH


def part_pin(wire):
    """The drawn pin a wire lands on: the short name before any explanation in pins.csv."""
    return wire.part_pin.split()[0]


def pin_end(part, pin):
    spec = PARTS[part]
    return spec["tip"], spec["first"] + spec["pins"].index(pin) * PITCH


def _crosses_side(wire):
    """True for a wire from one header to a part on the other side of the board."""
    part_on_right = PARTS[wire.part]["tip"] > BOARD_X
    return (wire.side == "right") != part_on_right


def _piece(wire, side, lane, channel):
    """The wire's path on one side of the board's centre line, through its lane there.

    A wire that stays on its side: header pin, out to its lane, along to the part's pin.
    A side-crossing wire is two pieces joined above or below the board at the centre line:
    header pin, out to its lane, along it to its channel, to the centre; then on to the
    other side's lane, along it and into the part.
    """
    start_x = LEFT_PIN_X if wire.side == "left" else RIGHT_PIN_X
    y = header_y(wire.row)
    tip, pin_y = pin_end(wire.part, part_pin(wire))
    if channel is None:
        return [(start_x, y), (lane, y), (lane, pin_y), (tip, pin_y)]
    if side == wire.side:
        return [(start_x, y), (lane, y), (lane, channel), (CENTRE_X, channel)]
    return [(CENTRE_X, channel), (lane, channel), (lane, pin_y), (tip, pin_y)]


def _segments(points):
    return list(itertools.pairwise(points))


def _meet(a, b):
    """True if two axis-parallel segments touch or overlap."""
    (ax1, ay1), (ax2, ay2) = a
    (bx1, by1), (bx2, by2) = b
    return (
        min(ax1, ax2) <= max(bx1, bx2)
        and min(bx1, bx2) <= max(ax1, ax2)
        and min(ay1, ay2) <= max(by1, by2)
        and min(by1, by2) <= max(ay1, ay2)
    )


def score(paths):
    """(crossings, total length): fewer crossings first, then shorter wires."""
    crossings = sum(
        _meet(a, b)
        for p, q in itertools.combinations(paths, 2)
        for a in _segments(p)
        for b in _segments(q)
    )
    length = sum(abs(x2 - x1) + abs(y2 - y1) for p in paths for (x1, y1), (x2, y2) in _segments(p))
    return crossings, length


def _lane_x(side, index):
    offset = FIRST_LANE + index * LANE_GAP
    return LEFT_PIN_X - offset if side == "left" else RIGHT_PIN_X + offset


def _best_side(side, members, channel_of):
    """The best lane for each wire with a piece on this side: (score, {wire: lane x})."""
    lanes = [_lane_x(side, i) for i in range(len(members))]
    piece = {(w, x): _piece(w, side, x, channel_of.get(w)) for w in members for x in lanes}
    pair_score = functools.cache(lambda a, b: score([piece[a], piece[b]]))
    best = None
    for order in itertools.permutations(lanes):
        placed = list(zip(members, order, strict=True))
        crossings = sum(pair_score(a, b)[0] for a, b in itertools.combinations(placed, 2))
        length = sum(score([piece[p]])[1] for p in placed)
        if best is None or (crossings, length) < best[0]:
            best = ((crossings, length), dict(placed))
    return best


def routes(all_wires):
    """{wire: path}. Both sides are independent once the channels are chosen."""
    crossing = [w for w in all_wires if _crosses_side(w)]
    best = None
    for channels in itertools.permutations(CHANNELS, len(crossing)):
        channel_of = dict(zip(crossing, channels, strict=True))
        total, lanes = (0, 0), {}
        for side in ("left", "right"):
            members = [w for w in all_wires if w.side == side or w in channel_of]
            (crossings, length), side_lanes = _best_side(side, members, channel_of)
            total = (total[0] + crossings, total[1] + length)
            for w, x in side_lanes.items():
                lanes[w, side] = x
        if best is None or total < best[0]:
            best = (total, lanes, channel_of)
    _, lanes, channel_of = best
    paths = {}
    for w in all_wires:
        if w in channel_of:
            other = "right" if w.side == "left" else "left"
            near = _piece(w, w.side, lanes[w, w.side], channel_of[w])
            paths[w] = near + _piece(w, other, lanes[w, other], channel_of[w])[1:]
        else:
            paths[w] = _piece(w, w.side, lanes[w, w.side], None)
    return paths


def _board(used):
    body = [
        svg.tag(
            "rect",
            x=BOARD_X,
            y=BOARD_Y,
            width=BOARD_W,
            height=BOARD_H,
            rx=6,
            fill="#1d5e3a",
            stroke="#0f3320",
        ),
        svg.tag(
            "rect",
            x=BOARD_X + 72,
            y=BOARD_Y + 8,
            width=BOARD_W - 144,
            height=190,
            fill="#c9ccd1",
            stroke="#8a8f96",
        ),  # the WROOM module's metal shield
        svg.tag(
            "rect",
            x=BOARD_X + 72,
            y=BOARD_Y + 8,
            width=BOARD_W - 144,
            height=40,
            fill="#e6e1c8",
            stroke="#8a8f96",
        ),  # its antenna
        svg.text(
            BOARD_X + BOARD_W / 2,
            BOARD_Y + 32,
            "antenna",
            font_size=11,
            text_anchor="middle",
            fill="#555",
        ),
        *(  # the board's name, one word a line, 16 px apart
            svg.text(
                BOARD_X + BOARD_W / 2,
                BOARD_Y + 120 + 16 * line,
                word,
                font_size=12,
                text_anchor="middle",
                fill="#333",
                font_family=FONT,
            )
            for line, word in enumerate(("ESP32-", "DevKitC", "V4"))
        ),
        svg.tag(
            "rect",
            x=BOARD_X + BOARD_W / 2 - 18,
            y=BOARD_Y + BOARD_H - 14,
            width=36,
            height=20,
            fill="#b0b4ba",
            stroke="#555",
        ),  # the micro-USB socket
        svg.text(
            BOARD_X + BOARD_W / 2,
            BOARD_Y + BOARD_H - 22,
            "USB",
            font_size=11,
            text_anchor="middle",
            fill="#fff",
        ),
    ]
    for side, names, x in (("L", wires.LEFT, LEFT_PIN_X), ("R", wires.RIGHT, RIGHT_PIN_X)):
        for row, name in enumerate(names, start=1):
            y = header_y(row)
            colour = used.get(f"{side}{row}")
            body.append(
                svg.tag(
                    "circle",
                    cx=x,
                    cy=y,
                    r=5,
                    fill=colour or "#d9d9d9",
                    stroke="#000",
                    stroke_width=1.5 if colour else 0.6,
                )
            )
            label = wires.SILKSCREEN.get(name, name.replace("GPIO", "IO"))
            body.append(
                svg.text(
                    x + 10 if side == "L" else x - 10,
                    y + 4,
                    label,
                    font_size=11,
                    text_anchor="start" if side == "L" else "end",
                    font_family=FONT,
                    fill="#fff",
                    font_weight="bold" if colour else None,
                )
            )
    return body


def _part(name, spec):
    """A box with the part's pins on the side facing the board and a caption below them."""
    x, tip, pins = spec["x"], spec["tip"], spec["pins"]
    facing_right = tip > x
    edge = x + PART_W if facing_right else x
    top = spec["first"] - PITCH
    height = (len(pins) + 1) * PITCH + 14 * len(spec["caption"])
    label_x = edge - 8 if facing_right else edge + 8
    anchor = "end" if facing_right else "start"
    body = [
        svg.tag(
            "rect", x=x, y=top, width=PART_W, height=height, rx=8, fill="#f4f4f4", stroke="#333"
        ),
        svg.text(
            x + PART_W / 2, top - 8, name, font_size=14, text_anchor="middle", font_weight="bold"
        ),
    ]
    for i, pin in enumerate(pins):
        y = spec["first"] + i * PITCH
        body.append(
            svg.tag("path", d=svg.path([(edge, y), (tip, y)]), stroke="#333", stroke_width=2)
        )
        body.append(
            svg.text(label_x, y + 4, pin, font_size=12, text_anchor=anchor, font_family=FONT)
        )
    caption_y = spec["first"] + len(pins) * PITCH - 6
    for i, line in enumerate(spec["caption"]):
        body.append(
            svg.text(
                x + PART_W / 2,
                caption_y + 14 * i,
                line,
                font_size=11,
                fill="#555",
                text_anchor="middle",
            )
        )
    return body


def _wire(points, colour):
    d = svg.path(points)
    return [
        svg.tag("path", d=d, fill="none", stroke="#000", stroke_width=5, stroke_linejoin="round"),
        svg.tag(
            "path",
            d=d,
            fill="none",
            stroke=COLOURS[colour],
            stroke_width=3,
            stroke_linejoin="round",
        ),
        svg.tag("circle", cx=points[-1][0], cy=points[-1][1], r=3.5, fill="#000"),
    ]


def _bridge():
    part, top_pin, bottom_pin = BRIDGE
    tip, y1 = pin_end(part, top_pin)
    _, y2 = pin_end(part, bottom_pin)
    x = tip - 8
    return [*_wire([(x, y1), (x, y2)], "black"), svg.tag("circle", cx=x, cy=y1, r=3.5, fill="#000")]


def svg_text():
    all_wires = wires.load()
    used = {w.header_pin: COLOURS[w.colour] for w in all_wires}
    body = [
        svg.tag("rect", x=0, y=0, width=WIDTH, height=HEIGHT, fill="#fff"),
        svg.text(20, 30, "Shelter Signal dial: wiring", font_size=20, font_weight="bold"),
        svg.text(20, 50, "generated from hardware/pins.csv", font_size=12, fill="#555"),
    ]
    body += _board(used)
    for name, spec in PARTS.items():
        body += _part(name, spec)
    for wire, points in routes(all_wires).items():
        body += _wire(points, wire.colour)
    body += _bridge()
    notes = (
        "Dupont sockets go on the ESP32's and the screen's pins; the encoder and LED are soldered.",
        "A dot is a joint. Wires only meet at dots.",
    )
    for i, line in enumerate(notes):
        body.append(svg.text(20, HEIGHT - 30 + 16 * i, line, font_size=12, fill="#333"))
    return svg.document(WIDTH, HEIGHT, body, title="Shelter Signal dial: wiring")
