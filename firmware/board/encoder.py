"""EC11 rotary encoder: quadrature edges in, one step per detent out.

MicroPython 1.26+ has machine.Encoder on the ESP32: the PCNT hardware counts every edge,
whatever Python is doing (a blocking DNS lookup or TLS handshake loses no turn). On
1.24 and 1.25 a pin-interrupt decoder takes its place; its handler only updates a
counter and sets a flag, as interrupt handlers should (no allocation, no I/O).

Either way a task polls the edge count and hands whole detents to the application.
Wiring: EC11 pin C to GND, A and B to the GPIOs in pins.encoder_a/b. The internal
pull-ups (~45 kOhm) work on a short cable; for a long one add 10 kOhm pull-ups to 3.3 V
and 10 nF to GND on A and B, the filter in the EC11 datasheet's test circuit.
"""

import asyncio

from machine import Pin

EDGES_PER_DETENT = 4  # EC11 (20 detents, 20 pulses per turn): a full quadrature cycle per click
POLL_MS = 20  # 50 Hz: the count on screen follows the hand without visible lag
PCNT_UNIT = 0  # any free PCNT unit (the ESP32 has 8); nothing else here uses one
# The longest glitch filter the PCNT has (1023 cycles of the 80 MHz APB clock = 12.8 us).
# It removes EMI spikes. Contact bounce (milliseconds) needs no filter: a bouncing contact
# flips between two neighbouring quadrature states, adding and removing the same edge.
FILTER_NS = 12000

# Quadrature transitions: index (old_ab << 2) | new_ab -> edge count change.
# 0 for no change and for impossible jumps (both phases changed: a missed edge).
_DELTA = (0, -1, 1, 0, 1, 0, 0, -1, -1, 0, 0, 1, 0, 1, -1, 0)


class Detents:
    """Turns a running edge count into detent steps, one per EDGES_PER_DETENT edges.

    A step is reported when the count reaches the next detent in either direction, so
    jitter around one position (or half a click and back) reports nothing.
    """

    def __init__(self, edges=0):
        self._at = edges  # edge count at the last reported detent

    def steps(self, edges):
        n = 0
        while edges - self._at >= EDGES_PER_DETENT:
            self._at += EDGES_PER_DETENT
            n += 1
        while self._at - edges >= EDGES_PER_DETENT:
            self._at -= EDGES_PER_DETENT
            n -= 1
        return n


class Encoder:
    def __init__(self, pin_a, pin_b):
        self._a = Pin(pin_a, Pin.IN, Pin.PULL_UP)
        self._b = Pin(pin_b, Pin.IN, Pin.PULL_UP)
        self.moved = False  # set by the interrupt handler (fallback decoder only)
        self._edges = 0  # running edge count (fallback decoder only)
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
        self._state = self._read()
        trigger = Pin.IRQ_RISING | Pin.IRQ_FALLING
        for pin in (self._a, self._b):
            try:  # hard: the pins are read at the edge, not when the VM gets round to it
                pin.irq(self._edge, trigger, hard=True)
            except (TypeError, ValueError):  # a port without hard pin interrupts
                pin.irq(self._edge, trigger)
        self.kind = "pin interrupts"

    def _read(self):
        return self._a.value() << 1 | self._b.value()

    def _edge(self, _pin):
        # Interrupt handler: small-int arithmetic and attribute stores only (no allocation).
        new = self._a.value() << 1 | self._b.value()
        self._edges += _DELTA[self._state << 2 | new]
        self._state = new
        self.moved = True

    def edges(self):
        """Running count of edges, + clockwise (with A and B wired as in the README)."""
        if self._pcnt is not None:
            return self._pcnt.value()
        self.moved = False  # cleared before the read: an edge after it sets it again
        return self._edges

    async def run(self, on_steps, beat):
        """Forever: call on_steps(n) with whole detents turned (+ clockwise)."""
        detents = Detents(self.edges())
        while True:
            if self._pcnt is not None or self.moved:
                steps = detents.steps(self.edges())
                if steps:
                    on_steps(steps)
            beat()
            await asyncio.sleep_ms(POLL_MS)
