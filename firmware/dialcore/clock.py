"""Millisecond ticks on MicroPython and CPython alike.

MicroPython's ticks wrap around, so durations always go through ticks_diff.
"""

import time


def _monotonic_ms():
    # CPython only; the firmware's type check reads MicroPython's time, which has no monotonic.
    return int(time.monotonic() * 1000)  # pyright: ignore[reportAttributeAccessIssue]


def _difference(a, b):
    return a - b


def _sum(a, b):
    return a + b


if hasattr(time, "ticks_ms"):  # MicroPython
    ticks_ms, ticks_diff, ticks_add = time.ticks_ms, time.ticks_diff, time.ticks_add
else:  # CPython: monotonic milliseconds never wrap
    ticks_ms, ticks_diff, ticks_add = _monotonic_ms, _difference, _sum


# Embedded MicroPython ports count seconds from 2000-01-01; Unix time starts in 1970.
EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0


def unix_time():
    return int(time.time()) + EPOCH_OFFSET


class Uptime:
    """Seconds since start, for telemetry, past the tick clock's wrap.

    ticks_diff is only right for spans under 2^29 ms (6.2 days); a dial runs for months. So
    the span is added up in steps: seconds() must be called more often than every 6 days
    (the App calls it at every settle tick).
    """

    def __init__(self):
        self._last = ticks_ms()
        self._ms = 0

    def seconds(self):
        now = ticks_ms()
        self._ms += ticks_diff(now, self._last)
        self._last = now
        return self._ms // 1000
