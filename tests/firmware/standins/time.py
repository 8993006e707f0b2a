"""Stand-in for the ESP32's `time`: MicroPython's own, with the board's RTC and tick clock.

The Unix port's time is the PC's. A board's RTC starts at its epoch after a power cut and
keeps counting through other resets; the test's board (tests/support/virtual_dial.py)
passes what the RTC holds in DIAL_RTC_OFFSET (seconds to add to the PC's clock, or "unset":
time then starts at 0 like a fresh RTC). The tick clock can be moved on (`ticks` command)
to show days of uptime without waiting for them.

The ESP32's tick clock wraps at 2^30 ms (its small ints are 31-bit), the 64-bit Unix port's at
2^62: ticks_ms, ticks_diff and ticks_add here wrap as the board's do, so that a span of more
than 2^29 ms (6.2 days) comes out negative as it does on a board. asyncio keeps the native
ones: its C task queue compares deadlines with the native period, so it must be imported
(below) before this module defines the board's; `machine` imports this module first.
"""

import os
import sys

import _link
import utime
from utime import *  # noqa: F403  everything else is MicroPython's own

if "asyncio.core" in sys.modules:  # it would take the board's ticks below
    raise ImportError("the stand-in time must be imported before asyncio")
import asyncio  # noqa: F401  binds the native ticks (see above)

_rtc = os.getenv("DIAL_RTC_OFFSET", "unset")
_booted = utime.time()
TICKS_PERIOD = 1 << 30  # the ESP32's ticks_ms wraps here
_HALF = TICKS_PERIOD // 2


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


def ticks_diff(later, earlier):
    return (later - earlier + _HALF) % TICKS_PERIOD - _HALF


def ticks_add(ticks, delta):
    return (ticks + delta) % TICKS_PERIOD
