"""Numbers the desk card quotes from the ESP32 layer of the firmware (firmware/board/).

Those modules import MicroPython's `machine`, which a PC does not have, so instead of
importing them we read the few constants we need from their source with Python's own
parser. The card then cannot drift from what the dial really does.
"""

import ast

from firmware.dialcore import devconfig, display
from hardware.tools import ROOT

BOARD = ROOT / "firmware" / "board"


def _assignments(path):
    """{name: value node} of a module's top-level assignments (tuples unpacked)."""
    found = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value
                elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    for name, value in zip(target.elts, node.value.elts, strict=True):
                        found[name.id] = value
    return found


def long_press_ms():
    """How long the knob must be held for a long press (board/button.py LONG_MS)."""
    return ast.literal_eval(_assignments(BOARD / "button.py")["LONG_MS"])


def hold_gesture_ms():
    """How long the knob must be held for a hold's page (board/button.py HOLD_MS)."""
    return ast.literal_eval(_assignments(BOARD / "button.py")["HOLD_MS"])


def led_patterns():
    """{display state: LED pattern name} (board/led.py _FOR_STATE), e.g. "saved": "solid"."""
    names = _assignments(BOARD / "led.py")
    patterns = {}
    table = names["_FOR_STATE"]
    for key, value in zip(table.keys, table.values, strict=True):
        state = getattr(display, key.attr)  # display.SAVED -> "saved"
        patterns[state] = ast.literal_eval(names[value.id])  # SOLID -> "solid"
    return patterns


def settle_seconds():
    """How long the dial waits after the last click before it saves (the config default)."""
    return devconfig.defaults()["settle_ms"] / 1000
