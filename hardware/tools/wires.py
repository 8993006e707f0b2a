"""The wiring: hardware/pins.csv (one row per wire from the ESP32 board to a part).

pins.csv is the single source of truth for which GPIO does what. The firmware's defaults
(firmware/dialcore/devconfig.py PINS), the wiring table in hardware/README.md and
hardware/wiring.svg are checked against it by tests/hardware/test_wiring.py.
"""

import csv
from dataclasses import dataclass

from firmware.dialcore import devconfig
from hardware.tools import HARDWARE

PINS_CSV = HARDWARE / "pins.csv"

# ESP32-DevKitC V4, seen from the component side with the USB socket at the bottom: the
# silkscreen name of each header pin from the antenna end down (Espressif's user guide,
# headers J2 = left and J3 = right). GPIO numbers are what the firmware uses.
LEFT = (
    "3V3",
    "EN",
    "GPIO36",
    "GPIO39",
    "GPIO34",
    "GPIO35",
    "GPIO32",
    "GPIO33",
    "GPIO25",
    "GPIO26",
    "GPIO27",
    "GPIO14",
    "GPIO12",
    "GND",
    "GPIO13",
    "GPIO9",
    "GPIO10",
    "GPIO11",
    "5V",
)
RIGHT = (
    "GND",
    "GPIO23",
    "GPIO22",
    "GPIO1",
    "GPIO3",
    "GPIO21",
    "GND",
    "GPIO19",
    "GPIO18",
    "GPIO5",
    "GPIO17",
    "GPIO16",
    "GPIO4",
    "GPIO0",
    "GPIO2",
    "GPIO15",
    "GPIO8",
    "GPIO7",
    "GPIO6",
)
# What the silkscreen says where it differs from GPIOnn.
SILKSCREEN = {
    "GPIO36": "VP",
    "GPIO39": "VN",
    "GPIO9": "D2",
    "GPIO10": "D3",
    "GPIO11": "CMD",
    "GPIO1": "TX",
    "GPIO3": "RX",
    "GPIO8": "D1",
    "GPIO7": "D0",
    "GPIO6": "CLK",
}


@dataclass(frozen=True)
class Wire:
    config_key: str  # the firmware's pins.<key>, "" for power and ground
    board_pin: str  # GPIO32, 3V3, GND
    header_pin: str  # L7 = left header, 7th pin from the antenna end
    part: str
    part_pin: str
    colour: str
    why: str

    @property
    def side(self):
        return "left" if self.header_pin[0] == "L" else "right"

    @property
    def row(self):
        """1 for the pin at the antenna end, 19 for the one at the USB end."""
        return int(self.header_pin[1:])

    @property
    def gpio(self):
        return int(self.board_pin[4:]) if self.board_pin.startswith("GPIO") else None


def header_name(header_pin):
    """The board pin at a header position, e.g. L7 -> GPIO32."""
    side = {"L": LEFT, "R": RIGHT}[header_pin[0]]
    return side[int(header_pin[1:]) - 1]


def load():
    with open(PINS_CSV, newline="") as f:
        return [Wire(**row) for row in csv.DictReader(f)]


def gpio_assignment(wires):
    """{config key: GPIO number}: what devconfig.PINS must hold as defaults."""
    return {w.config_key: w.gpio for w in wires if w.config_key}


def _cell(text):
    return text.replace("|", "\\|")


def wiring_table(wires):
    """The Markdown wiring table in hardware/README.md."""
    lines = [
        "| ESP32 pin | header position | part | part pin | wire | firmware setting "
        "| why this pin |",
        "|---|---|---|---|---|---|---|",
    ]
    for w in wires:
        setting = f"`pins.{w.config_key}`" if w.config_key else ""
        lines.append(
            f"| {w.board_pin} | {w.side} header, pin {w.row} | {w.part} | {_cell(w.part_pin)} "
            f"| {w.colour} | {setting} | {_cell(w.why)} |"
        )
    return "\n".join(lines)


def avoided_table():
    """The pins the firmware refuses, with its own reasons (devconfig.PIN_RULES)."""
    lines = ["| GPIO | why not |", "|---|---|"]
    for gpios, why in devconfig.PIN_RULES:
        lines.append(f"| {', '.join(str(g) for g in gpios)} | {why} |")
    return "\n".join(lines)
