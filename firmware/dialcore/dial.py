"""The counts on the dial and when a change becomes a commit.

Turning changes the count of the current channel at once (the display follows the
hand); the change is committed when the dial has been still for the settle time, or
at once when the button is pressed. A short press also moves to the next channel.
"""

from .clock import ticks_diff

SETTLE_MS = (
    2000  # long enough to finish turning, short enough that staff see "saved" before walking away
)


def _fit(counts, capacities):
    """One count per capacity, each within 0..capacity; missing counts start at 0."""
    counts = list(counts) + [0] * len(capacities)
    return [min(max(c, 0), cap) for c, cap in zip(counts, capacities)]


class Dial:
    def __init__(self, counts, capacities, settle_ms=SETTLE_MS):
        self.capacities = list(capacities)
        self.counts = _fit(counts, capacities)
        self.committed = list(self.counts)
        self.channel = 0
        self.settle_ms = settle_ms
        self._moved_at = None  # ticks of the last turn not yet committed

    @property
    def editing(self):
        return self._moved_at is not None

    def turn(self, steps, now):
        """Apply detent steps (+ clockwise) to the current channel, clamped to 0..capacity."""
        ch = self.channel
        self.counts[ch] = min(max(self.counts[ch] + steps, 0), self.capacities[ch])
        self._moved_at = now if self.counts != self.committed else None

    def press(self):
        """Short press: the current counts are to be committed now.

        A press with nothing changed still commits: staff confirming "still 12" is news
        (it refreshes the map's "updated" time).
        """
        self._moved_at = None
        self.committed = list(self.counts)

    def next_channel(self):
        self.channel = (self.channel + 1) % len(self.counts)

    def due(self, now):
        """True once the dial has been still for settle_ms after a change: commit then."""
        if self._moved_at is None or ticks_diff(now, self._moved_at) < self.settle_ms:
            return False
        self._moved_at = None
        self.committed = list(self.counts)
        return True

    def reconfigure(self, capacities):
        """Apply new capacities; returns True when a count had to be lowered (commit it then)."""
        old = self.counts
        self.capacities = list(capacities)
        self.counts = _fit(old, capacities)
        self.committed = _fit(self.committed, capacities)
        self.channel = min(self.channel, len(self.counts) - 1)
        return any(new < was for new, was in zip(self.counts, old))
