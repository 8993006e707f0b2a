"""EC11 rotary encoder: reads the pins or the PCNT counter; dialcore/quadrature.py counts.

MicroPython 1.26+ has machine.Encoder on the ESP32: the PCNT hardware counts every edge,
whatever Python is doing (a blocking DNS lookup or TLS handshake loses no turn). On
1.24 and 1.25 a pin-interrupt decoder takes its place; its handler only feeds the
quadrature Decoder (which allocates nothing) and sets a flag, as interrupt handlers
should (no allocation, no I/O).

Either way a task polls the edge count and hands whole detents, accelerated on fast
spins of a big channel, to the application.
Wiring: EC11 pin C to GND, A and B to the GPIOs in pins.encoder_a/b. The internal
pull-ups (~45 kOhm) work on a short cable; for a long one add 10 kOhm pull-ups to 3.3 V
and 10 nF to GND on A and B, the filter in the EC11 datasheet's test circuit.
"""

import asyncio

from dialcore.clock import ticks_ms
from dialcore.quadrature import Acceleration, Decoder, Detents
from machine import Pin

POLL_MS = 20  # 50 Hz: the count on screen follows the hand without visible lag
PCNT_UNIT = 0  # any free PCNT unit (the ESP32 has 8); nothing else here uses one
# The longest glitch filter the PCNT has (1023 cycles of the 80 MHz APB clock = 12.8 us).
# It removes EMI spikes. Contact bounce (milliseconds) needs no filter: a bouncing contact
# flips between two neighbouring quadrature states, adding and removing the same edge.
FILTER_NS = 12000


class Encoder:
    def __init__(self, pin_a, pin_b):
        self._a = Pin(pin_a, Pin.IN, Pin.PULL_UP)
        self._b = Pin(pin_b, Pin.IN, Pin.PULL_UP)
        self.moved = False  # set by the interrupt handler (fallback decoder only)
        # Fed by the interrupt handler (fallback only); made here, as a handler must not.
        self._decoder = Decoder(self._a.value(), self._b.value())
        try:
            from machine import Encoder as Pcnt  # MicroPython 1.26+ on the ESP32
        except ImportError:
            Pcnt = None
        if Pcnt is not None:
            # phases=4: count all four edges of a cycle, the same unit as the fallback
            self._pcnt = Pcnt(PCNT_UNIT, self._a, self._b, phases=4, filter_ns=FILTER_NS)
            self.kind = "PCNT hardware"
            return
        self._pcnt = None
        trigger = Pin.IRQ_RISING | Pin.IRQ_FALLING
        for pin in (self._a, self._b):
            try:  # hard: the pins are read at the edge, not when the VM gets round to it
                pin.irq(self._edge, trigger, hard=True)
            except (TypeError, ValueError):  # a port without hard pin interrupts
                pin.irq(self._edge, trigger)
        self.kind = "pin interrupts"

    def _edge(self, _pin):
        # Interrupt handler: feed() allocates nothing (dialcore/quadrature.py says why).
        self._decoder.feed(self._a.value(), self._b.value())
        self.moved = True

    def edges(self):
        """Running count of edges, + clockwise (with A and B wired as in the README)."""
        if self._pcnt is not None:
            return self._pcnt.value()
        self.moved = False  # cleared before the read: an edge after it sets it again
        return self._decoder.edges

    async def run(self, on_steps, beat, capacity=None):
        """Forever: call on_steps(n) with the count change turned (+ clockwise).

        capacity, if given, returns the current channel's capacity: fast spins of a big
        channel are accelerated (dialcore/quadrature.py). Without it every detent is one.
        """
        detents = Detents(self.edges())
        speed = Acceleration()
        while True:
            if self._pcnt is not None or self.moved:
                # The PCNT misses no edge, so it needs no healing by rest_edges.
                rest = self._decoder.rest_edges if self._pcnt is None else None
                steps = detents.steps(self.edges(), rest)
                if steps and capacity is not None:
                    steps = speed.steps(steps, ticks_ms(), capacity())
                if steps:
                    on_steps(steps)
            beat()
            await asyncio.sleep_ms(POLL_MS)
