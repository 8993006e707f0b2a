"""The rotary encoder's arithmetic: quadrature edges, whole detents, acceleration.

Hardware-free, so it runs under CPython and MicroPython alike (tests feed it edge counts
and a fake clock); board/encoder.py reads the PCNT counter and calls it.

    PCNT edge count --Detents--> detent steps --Acceleration--> steps

An EC11 encoder's two contacts, A and B, go through four states per detent (click) in a
fixed order (Gray code: one contact changes at a time). Clockwise, A changes before B.
"""

from .clock import ticks_diff

EDGES_PER_DETENT = 4  # EC11 (20 detents, 20 pulses per turn): a full quadrature cycle per click

# Acceleration: a spin of a big channel moves FAST_FACTOR per click.
# Above 50 (2.5 turns of 20 clicks at one per click) one-per-click gets tedious: 200 beds
# would be 10 turns. Up to 50 every click counts one, so a small shelter is never surprised.
ACCEL_ABOVE_CAPACITY = 50
# A spin is FAST_DETENTS clicks within FAST_WINDOW_MS: 3 in 100 ms is 20 clicks (a whole
# turn) per second. Counting one click at a time is at most about 8 clicks per second (3
# clicks take 250 ms), so careful counting never accelerates, and a quick flick of one or
# two clicks neither: only a deliberate spin does.
FAST_DETENTS = 3
FAST_WINDOW_MS = 100
# x5: 200 beds are about two fast turns away, yet slow enough to follow on the screen and
# stop near the number; the last few are then single slow clicks.
FAST_FACTOR = 5


class Detents:
    """Running edge count in, whole detent steps out: one per `per_detent` edges.

    A step is reported when the count reaches the next detent in either direction, so
    contact bounce and jitter around one position (or half a click and back) report
    nothing.

    The PCNT hardware counter misses no edge, so the count stays a whole number of
    detents from the start at every click.
    """

    def __init__(self, edges=0, per_detent=EDGES_PER_DETENT):
        self._at = edges  # edge count at the last reported detent
        self._per = per_detent

    def steps(self, edges):
        """Whole detents (+ clockwise) since the last call."""
        n = 0
        while edges - self._at >= self._per:
            self._at += self._per
            n += 1
        while self._at - edges >= self._per:
            self._at -= self._per
            n -= 1
        return n


class Acceleration:
    """Detent steps in, count changes out: FAST_FACTOR per click while spinning fast.

    Only on channels with a capacity above ACCEL_ABOVE_CAPACITY. The first clicks of a
    spin count one each (it takes FAST_DETENTS to tell a spin), and turning back starts
    again at one per click, so a correction after a spin is always fine-grained.
    """

    def __init__(self):
        self._times = []  # ticks of the newest FAST_DETENTS clicks in the current direction
        self._direction = 0

    def steps(self, detents, now, capacity):
        """detents: whole clicks (+ clockwise) seen at ticks `now`; returns the change."""
        if detents == 0 or capacity <= ACCEL_ABOVE_CAPACITY:
            return detents
        direction = 1 if detents > 0 else -1
        if direction != self._direction:
            self._times = []
            self._direction = direction
        change = 0
        for _ in range(detents * direction):
            self._times.append(now)
            if len(self._times) > FAST_DETENTS:
                self._times.pop(0)
            fast = (
                len(self._times) == FAST_DETENTS
                and ticks_diff(now, self._times[0]) <= FAST_WINDOW_MS
            )
            change += FAST_FACTOR if fast else 1
        return change * direction
