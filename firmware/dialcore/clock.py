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
