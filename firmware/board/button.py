"""The encoder's push switch: short press and long press, debounced by polling.

Polling at SAMPLE_MS needs no interrupt at all: a contact bounces for a few ms, so two
samples SAMPLE_MS apart never both land in one bounce, and each sample reads either the
old or the new level. A press is therefore seen once, at most SAMPLE_MS late.
"""

import asyncio

from dialcore.clock import ticks_diff, ticks_ms
from machine import Pin

SAMPLE_MS = 20  # longer than the switch's bounce (EC11: under 5 ms), short enough to feel instant
LONG_MS = 1000  # held this long = long press: nobody holds a click a whole second by accident


class Button:
    def __init__(self, pin):
        # Switch between the pin and GND, internal pull-up: reads 0 while pressed.
        self._pin = Pin(pin, Pin.IN, Pin.PULL_UP)

    def pressed(self):
        return self._pin.value() == 0

    async def run(self, on_short, on_long, beat, on_down=None, on_up=None):
        """Forever: on_short() on release of a short press, on_long() once LONG_MS is held;
        on_down() as a timed press begins and on_up() as it ends (before on_short), so the
        app knows the button is held (the turn-away gesture: hold and click the dial).

        A long press acts while still held (the screen answers at once) and its release
        is not also a short press. A switch already held when this starts (maintenance
        check at boot) counts only after it has been released.
        """
        down_at = None  # ticks of the press being timed
        long_done = self.pressed()  # swallow a press that began before we looked
        while True:
            now = ticks_ms()
            if self.pressed():
                if down_at is None and not long_done:
                    down_at = now
                    if on_down:
                        on_down()
                elif down_at is not None and ticks_diff(now, down_at) >= LONG_MS:
                    down_at = None
                    long_done = True
                    on_long()
            else:
                if (down_at is not None or long_done) and on_up:
                    on_up()
                if down_at is not None:
                    on_short()
                down_at = None
                long_done = False
            beat()
            await asyncio.sleep_ms(SAMPLE_MS)
