"""The virtual dial's wire to its test (tests/support/virtual_dial.py): what a bench holds.

MicroPython code, imported by the stand-in `machine`, `network` and `time` modules. A test
drives the board through UDP datagrams to this process (turn the knob, press the button,
drop the Wi-Fi, move the tick clock) and hears from it the same way (the watchdog's feeds,
each frame the screen driver sends, the RTC when it is set, the event loop's longest stall,
and the most GC heap in use at a poll, garbage included: gc.mem_alloc()).

poll() is called by every stand-in the firmware reads (pins, encoder, Wi-Fi state): those
are read every 20 ms by the encoder and button tasks, so the gap between two polls is
how long the event loop was blocked, which is what the test bounds.
"""

import gc
import os
import socket

import utime

_inbox = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
_inbox.bind(socket.getaddrinfo("127.0.0.1", int(os.getenv("DIAL_CONTROL_PORT")))[0][-1])
_inbox.setblocking(False)
_outbox = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
_test = socket.getaddrinfo("127.0.0.1", int(os.getenv("DIAL_TEST_PORT")))[0][-1]

# What the test has set; the stand-ins read these.
knob = [0]  # encoder edges turned so far (4 per click)
button_down = [False]
wifi_up = [os.getenv("DIAL_WIFI", "1") == "1"]
tick_offset = [int(os.getenv("DIAL_TICK_OFFSET", "0"))]

_last_poll = [utime.ticks_ms()]
_longest = [0]  # the longest gap between two polls since the last report
_heap = [0]  # the most gc.mem_alloc() seen at a poll since the last report
_reported = [utime.ticks_ms()]
REPORT_MS = 500  # how often the longest stall and the heap are reported
# Set by a bench: gc.collect() before each report, which then also says the live heap.
COLLECT = os.getenv("DIAL_HEAP_COLLECT") == "1"
BUTTON_PIN = int(os.getenv("DIAL_BUTTON_PIN", "27"))  # pins.encoder_switch


def send(message):
    try:
        _outbox.sendto(message, _test)
    except OSError:  # the test is gone: nothing to tell
        pass


def _apply(command):
    word, _, value = command.partition(b" ")
    if word == b"turn":
        knob[0] += 4 * int(value)
    elif word == b"button":
        button_down[0] = value == b"1"
    elif word == b"wifi":
        wifi_up[0] = value == b"1"
    elif word == b"ticks":
        tick_offset[0] += int(value)


def poll():
    now = utime.ticks_ms()
    gap = utime.ticks_diff(now, _last_poll[0])
    _last_poll[0] = now
    if gap > _longest[0]:
        _longest[0] = gap
    used = gc.mem_alloc()
    if used > _heap[0]:
        _heap[0] = used
    if utime.ticks_diff(now, _reported[0]) >= REPORT_MS:
        send(b"stall " + str(_longest[0]).encode())
        send(b"heap " + str(_heap[0]).encode())
        if COLLECT:
            gc.collect()
            send(b"live " + str(gc.mem_alloc()).encode())
        _longest[0] = _heap[0] = 0
        _reported[0] = now
    while True:
        try:
            command = _inbox.recv(256)
        except OSError:  # nothing waiting
            return
        _apply(command)
