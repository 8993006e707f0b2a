"""The encoder's push switch: short press, long press and the longer hold, debounced by
polling.

Polling at SAMPLE_MS needs no interrupt at all: a contact bounces for a few ms, so two
samples SAMPLE_MS apart never both land in one bounce, and each sample reads either the
old or the new level. A press is therefore seen once, at most SAMPLE_MS late.
"""

import asyncio

from dialcore.clock import ticks_diff, ticks_ms
from machine import Pin

SAMPLE_MS = 20  # longer than the switch's bounce (EC11: under 5 ms), short enough to feel instant
LONG_MS = 1000  # held this long = long press: nobody holds a click a whole second by accident
# Held this long = the hold gesture (dialcore/desk.py, arm): the long press has acted and its
# screen has shown for 2 s, so nobody reaches it by holding a long press a little long
HOLD_MS = 3000
SWALLOW = 2  # `done` for a press that began before we looked: nothing of it acts


class Button:
    def __init__(self, pin):
        # Switch between the pin and GND, internal pull-up: reads 0 while pressed.
        self._pin = Pin(pin, Pin.IN, Pin.PULL_UP)

    def pressed(self):
        return self._pin.value() == 0

    async def run(self, on_short, on_long, beat, on_down=None, on_up=None, on_hold=None):
        """Forever: on_short() on release of a short press, on_long() once LONG_MS is held,
        on_hold() once HOLD_MS is held; on_down() as a timed press begins and on_up() as it
        ends (before on_short), so the app knows the button is held (the turn-away and hold
        gestures: hold and click the dial).

        A long press acts while still held (the screen answers at once) and its release
        is not also a short press. A switch already held when this starts (maintenance
        check at boot) counts only after it has been released.
        """
        down_at = None  # ticks of the press being timed
        done = SWALLOW if self.pressed() else 0  # 1: its long press acted, 2: its hold too
        while True:
            now = ticks_ms()
            if self.pressed():
                if down_at is None and not done:
                    down_at = now
                    if on_down:
                        on_down()
                elif down_at is not None:
                    held = ticks_diff(now, down_at)
                    if not done and held >= LONG_MS:
                        done = 1
                        on_long()
                    elif done == 1 and held >= HOLD_MS:
                        done = 2
                        if on_hold:
                            on_hold()
            else:
                if (down_at is not None or done) and on_up:
                    on_up()
                if down_at is not None and not done:
                    on_short()
                down_at = None
                done = 0
            beat()
            await asyncio.sleep_ms(SAMPLE_MS)
