"""Stand-in for the ESP32's `machine`, for the virtual dial (tests/support/virtual_dial.py).

Only what cannot exist on a PC is stood in, and thinly: pins and the PCNT encoder read
what the test set (_link), I2C hands what the real ssd1306 driver sends to the test as
frames, the watchdog is kept by the test (it kills this process when the feeds stop, as
the chip resets), reset() ends the process with RESET_EXIT so the test starts it again.
"""

import os
import sys
import time

import _link

PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5
RESET_EXIT = 77  # the exit status that tells the test "machine.reset() was called"
_cause = int(os.getenv("DIAL_RESET_CAUSE", str(PWRON_RESET)))


def reset_cause():
    return _cause


def reset():
    print("machine.reset()")
    sys.exit(RESET_EXIT)


def unique_id():
    return bytes.fromhex(os.getenv("DIAL_UNIQUE_ID", "24d7eb0a1b2c"))


class Pin:
    IN, OUT = 1, 3
    PULL_UP = 1
    IRQ_RISING, IRQ_FALLING = 1, 2

    def __init__(self, number, mode=IN, pull=None, value=None):
        self.number = number
        self._level = value or 0

    def value(self, level=None):
        _link.poll()
        if level is not None:
            self._level = level
            return None
        if self.number == _link.BUTTON_PIN:
            return 0 if _link.button_down[0] else 1  # pulled up; the switch pulls it to GND
        return self._level


class Encoder:
    """The PCNT counter (machine.Encoder, MicroPython 1.26+): edges turned, from the test."""

    def __init__(self, unit, pin_a, pin_b, phases=1, filter_ns=0):
        self._start = _link.knob[0]

    def value(self):
        _link.poll()
        return _link.knob[0] - self._start


if os.getenv("DIAL_MICROPYTHON_BEFORE_1_26") == "1":  # as 1.24 and 1.25: no PCNT counter
    del Encoder


class I2C:
    """Passes the SSD1306's data writes (the whole 1 KB frame, after its address commands)
    to the test; its commands change nothing here.

    A frame goes out through one buffer made here once: a real I2C bus takes no heap to
    send, and a copy per frame (2 KB of garbage at every redraw) made the heap measurement
    fail on a 1 KB piece the firmware never asks for (docs/benchmarks.md)."""

    def __init__(self, bus, scl=None, sda=None, freq=400000):
        self._frame = bytearray(b"F" + bytes(1024))
        self._data = memoryview(self._frame)[1:]

    def writeto(self, address, buffer):
        return len(buffer)

    def writevto(self, address, buffers):
        if buffers[0][0] == 0x40:  # Co=0, D/C#=1: the display data that follows
            self._data[:] = buffers[1]
            _link.send(self._frame)


class WDT:
    def __init__(self, id=0, timeout=5000):
        _link.send(b"wdt " + str(timeout).encode())

    def feed(self):
        _link.send(b"feed")


class RTC:
    def datetime(self, value=None):
        if value is None:
            t = time.gmtime()
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)
        year, month, day, _weekday, hour, minute, second = value[:7]
        time.set_rtc(time.mktime((year, month, day, hour, minute, second, 0, 0)))
        return None
