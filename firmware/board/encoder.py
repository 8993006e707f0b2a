"""EC11 rotary encoder, counted by the ESP32's PCNT hardware; dialcore/quadrature.py steps.

machine.Encoder (MicroPython 1.26 and newer) counts every edge in the PCNT peripheral,
whatever Python is doing: a blocking DNS lookup or flash write loses no turn. It is why
1.26 is the oldest MicroPython the dial runs on: before it, only pin interrupts could
count, and the ESP32 port runs those as soft (scheduled) handlers (`hard=True` raises
there), which read the pins late and lose clicks while the VM is busy. Without
machine.Encoder this module does not import, and main.py says so on the screen.

A task polls the edge count and hands whole detents, accelerated on fast spins of a big
channel, to the application.
Wiring: EC11 pin C to GND, A and B to the GPIOs in pins.encoder_a/b. The internal
pull-ups (~45 kOhm) work on a short cable; for a long one add 10 kOhm pull-ups to 3.3 V
and 10 nF to GND on A and B, the filter in the EC11 datasheet's test circuit.
"""

import asyncio

from dialcore.clock import ticks_ms
from dialcore.quadrature import Acceleration, Detents
from machine import Encoder as Pcnt  # MicroPython 1.26+ on the ESP32
from machine import Pin

POLL_MS = 20  # 50 Hz: the count on screen follows the hand without visible lag
PCNT_UNIT = 0  # any free PCNT unit (the ESP32 has 8); nothing else here uses one
# The longest glitch filter the PCNT has (1023 cycles of the 80 MHz APB clock = 12.8 us).
# It removes EMI spikes. Contact bounce (milliseconds) needs no filter: a bouncing contact
# flips between two neighbouring quadrature states, adding and removing the same edge.
FILTER_NS = 12000


class Encoder:
    def __init__(self, pin_a, pin_b):
        a = Pin(pin_a, Pin.IN, Pin.PULL_UP)
        b = Pin(pin_b, Pin.IN, Pin.PULL_UP)
        # phases=4: count all four edges of a cycle (dialcore/quadrature.py's unit)
        self._pcnt = Pcnt(PCNT_UNIT, a, b, phases=4, filter_ns=FILTER_NS)

    def edges(self):
        """Running count of edges, + clockwise (with A and B wired as in the README)."""
        return self._pcnt.value()

    async def run(self, on_steps, beat, capacity=None):
        """Forever: call on_steps(n) with the count change turned (+ clockwise).

        capacity, if given, returns the current channel's capacity: fast spins of a big
        channel are accelerated (dialcore/quadrature.py). Without it every detent is one.
        """
        detents = Detents(self.edges())
        speed = Acceleration()
        while True:
            steps = detents.steps(self.edges())
            if steps and capacity is not None:
                steps = speed.steps(steps, ticks_ms(), capacity())
            if steps:
                on_steps(steps)
            beat()
            await asyncio.sleep_ms(POLL_MS)
