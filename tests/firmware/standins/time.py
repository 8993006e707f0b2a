"""Stand-in for the ESP32's `time`: MicroPython's own, with the board's RTC and tick clock.

The Unix port's time is the PC's. A board's RTC starts at its epoch after a power cut and
keeps counting through other resets; the test's board (tests/support/virtual_dial.py)
passes what the RTC holds in DIAL_RTC_OFFSET (seconds to add to the PC's clock, or "unset":
time then starts at 0 like a fresh RTC). The tick clock can be moved on (`ticks` command)
to show days of uptime without waiting for them.
"""

import os

import _link
import utime
from utime import *  # noqa: F403  everything else is MicroPython's own

_rtc = os.getenv("DIAL_RTC_OFFSET", "unset")
_booted = utime.time()
TICKS_PERIOD = 1 << 30  # MicroPython's ticks_ms wraps here (ticks_add/ticks_diff know it)


def rtc_offset():
    return None if _rtc == "unset" else int(_rtc)


def set_rtc(unix_seconds):
    global _rtc
    _rtc = str(int(unix_seconds - utime.time()))  # whole seconds, as the RTC's
    _link.send(b"rtc " + _rtc.encode())


def time():
    offset = rtc_offset()
    return int(utime.time() - _booted if offset is None else utime.time() + offset)


def gmtime(secs=None):
    return utime.gmtime(time() if secs is None else secs)


localtime = gmtime


def ticks_ms():
    return (utime.ticks_ms() + _link.tick_offset[0]) % TICKS_PERIOD
