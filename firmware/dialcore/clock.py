"""Millisecond ticks on MicroPython and CPython alike.

MicroPython's ticks wrap around, so durations always go through ticks_diff.
"""

import time

try:
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
except AttributeError:  # CPython: monotonic milliseconds never wrap

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b


# Embedded MicroPython ports count seconds from 2000-01-01; Unix time starts in 1970.
EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0


def unix_time():
    return int(time.time()) + EPOCH_OFFSET
