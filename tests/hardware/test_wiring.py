"""pins.csv is the one source of truth: the firmware, the README and the diagram follow it."""

import json
import xml.etree.ElementTree as ET

from firmware.dialcore import devconfig
from hardware.tools import HARDWARE, ROOT, build, wires, wiring_diagram


def test_the_firmwares_default_pins_are_the_ones_in_pins_csv():
    defaults = {name: gpio for name, gpio, _ in devconfig.PINS}
    assert wires.gpio_assignment(wires.load()) == defaults


def test_the_example_config_uses_the_same_pins():
    example = json.loads((ROOT / "firmware" / "device_config.example.json").read_text())
    assert example["pins"] == wires.gpio_assignment(wires.load())


def test_every_wire_sits_on_a_real_header_pin_of_its_own():
    all_wires = wires.load()
    for w in all_wires:
        assert wires.header_name(w.header_pin) == w.board_pin, w
        assert w.why, w
        if w.config_key:
            assert w.gpio is not None, w
        else:
            assert w.board_pin in ("3V3", "GND"), w
    positions = [w.header_pin for w in all_wires]
    assert len(positions) == len(set(positions))  # one Dupont plug per pin


def test_the_firmware_accepts_every_gpio_of_the_wiring():
    # The config check refuses strapping, input-only, flash and console pins with a reason.
    raw = {
        "device_id": "desk-01",
        "wifi_ssid": "ShelterStaff",
        "wifi_password": "",
        "mqtt_host": "signal.example.org",
        "pins": wires.gpio_assignment(wires.load()),
    }
    assert devconfig.load(raw)["pins"] == raw["pins"]


def test_the_readme_tables_are_generated_from_the_data():
    readme = build.README.read_text()
    assert build.section(readme, "wiring") == wires.wiring_table(wires.load()) + "\n"
    avoided = build.section(readme, "avoided-pins")
    assert avoided == wires.avoided_table() + "\n"
    for gpios, why in devconfig.PIN_RULES:  # the firmware's own reasons, every one
        assert why in avoided and ", ".join(map(str, gpios)) in avoided


def test_the_diagram_is_current_and_draws_every_wire():
    text = (HARDWARE / "wiring.svg").read_text()
    assert text == wiring_diagram.svg_text()
    ET.fromstring(text.encode())  # well-formed
    all_wires = wires.load()
    for w in all_wires:
        assert wiring_diagram.part_pin(w) in wiring_diagram.PARTS[w.part]["pins"], w
        assert w.colour in wiring_diagram.COLOURS, w


def test_the_diagram_routes_with_at_most_the_two_unavoidable_crossings():
    # GPIO25 (the LED) sits between the encoder's wires on the left header while the LED
    # is drawn on the right: its wire must cross two encoder wires, and nothing else may.
    paths = list(wiring_diagram.routes(wires.load()).values())
    crossings, _length = wiring_diagram.score(paths)
    assert crossings <= 2
