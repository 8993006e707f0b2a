"""The status LED: one glance from across the room says whether the count is saved.

solid       saved: the server has the newest count (or nothing to save yet)
slow blink  pending: turning, or sent and waiting for the server's ack
fast blink  needs attention: offline, the server refused the count, setup or safe mode
off         starting up, or maintenance mode
"""

import asyncio

from dialcore import display
from dialcore.clock import ticks_ms
from machine import Pin

OFF, SOLID, SLOW, FAST = "off", "solid", "slow", "fast"
HALF_PERIOD_MS = {SLOW: 500, FAST: 125}  # 1 Hz reads as "busy", 4 Hz as "alarm"
STEP_MS = 25  # update often enough that a 125 ms half period stays even

_FOR_STATE = {
    display.SAVED: SOLID,
    display.READY: SOLID,
    display.EDITING: SLOW,
    display.SENDING: SLOW,
    display.OFFLINE: FAST,
    display.REJECTED: FAST,
}


def pattern_for(state):
    """The LED pattern for a display.state() value."""
    return _FOR_STATE.get(state, FAST)


class Led:
    def __init__(self, pin):
        self._pin = Pin(pin, Pin.OUT, value=0)  # active high: GPIO -> resistor -> LED -> GND
        self.pattern = OFF

    def _level(self, now):
        if self.pattern in HALF_PERIOD_MS:
            return (now // HALF_PERIOD_MS[self.pattern]) % 2 == 0
        return self.pattern == SOLID

    async def run(self, pattern, beat):
        """Forever: show pattern() (a callable returning OFF/SOLID/SLOW/FAST), or self.pattern."""
        while True:
            if pattern is not None:
                self.pattern = pattern()
            self._pin.value(1 if self._level(ticks_ms()) else 0)
            beat()
            await asyncio.sleep_ms(STEP_MS)
