"""The encoder's arithmetic (dialcore/quadrature.py), under CPython and real MicroPython.

behaviour() below drives the encoder with pin levels and a fake clock: one click, bounce,
reversal, jitter, fast and slow spins, and the whole chain into a Dial.
Both interpreters run its very source (MicroPython once per module, about 0.1 s), and
every test checks what came out of each.
"""

import inspect
import json
import pathlib

import pytest

from firmware.dialcore import quadrature
from firmware.dialcore.dial import Dial
from tests.support.micropython import run_micropython

FIRMWARE = pathlib.Path(__file__).resolve().parents[3] / "firmware"


def behaviour(quadrature, Dial):
    """What the encoder code makes of each scenario: {name: JSON-able result}."""
    # Pin levels (a, b) through one click from a detent, where both contacts are open
    # (1, 1 with the pull-ups). Clockwise, A changes first.
    cw = [(0, 1), (0, 0), (1, 0), (1, 1)]
    ccw = [(1, 0), (0, 0), (0, 1), (1, 1)]

    # The PCNT counter's arithmetic (board/encoder.py reads the real one): +1 for an edge
    # clockwise, -1 counter-clockwise, by the Gray code of (old a, old b, new a, new b).
    delta = (0, -1, 1, 0, 1, 0, 0, -1, -1, 0, 0, 1, 0, 1, -1, 0)

    class Knob:
        """The board's encoder without the pins: levels in, count changes out."""

        def __init__(self):
            self.state = 3  # both contacts open at a detent (1, 1 with the pull-ups)
            self.count = 0  # what the PCNT counter holds
            self.detents = quadrature.Detents()
            self.speed = quadrature.Acceleration()

        def feed(self, levels):
            new = levels[0] << 1 | levels[1]
            self.count += delta[self.state << 2 | new]
            self.state = new

        def edge(self, levels):
            """Count one edge and poll at once: the detent steps it completed."""
            self.feed(levels)
            return self.detents.steps(self.count)

        def edges(self, sequence):
            return [self.edge(levels) for levels in sequence]

        def click(self, sequence, now, capacity):
            """One click's edges, then a poll at ticks `now`, as board/encoder.py does."""
            for levels in sequence:
                self.feed(levels)
            steps = self.detents.steps(self.count)
            return self.speed.steps(steps, now, capacity) if steps else 0

    seen = {}
    knob = Knob()
    seen["clockwise"] = knob.edges(cw + cw)
    seen["clockwise_edges"] = knob.count
    seen["counter_clockwise"] = Knob().edges(ccw + ccw)

    # A bounces at the first transition (the contact chatters before it settles), B at the
    # second, A at the last one, right at the detent.
    bouncing = [(0, 1), (1, 1), (0, 1), (1, 1), (0, 1)]
    bouncing += [(0, 0), (0, 1), (0, 0)]
    bouncing += [(1, 0), (0, 0), (1, 0), (1, 1), (1, 0), (1, 1)]
    seen["bounce"] = Knob().edges(bouncing)

    # Half a click and back; then three quarters, back, and on into a counter-clockwise click.
    seen["half_and_back"] = Knob().edges([(0, 1), (0, 0), (0, 1), (1, 1)])
    three_quarters_and_back = [(0, 1), (0, 0), (1, 0), (0, 0), (0, 1), (1, 1)]
    seen["reversal"] = Knob().edges(three_quarters_and_back + ccw)

    # The contacts wobble on the last edge of a detent, after a click and before any.
    knob = Knob()
    wobble = [(1, 0), (1, 1), (1, 0), (1, 1), (1, 0), (1, 1)]
    seen["jitter"] = knob.edges(wobble + cw + wobble)

    def spin(clicks, ms_per_click, capacity, sequence=cw):
        knob = Knob()
        return [knob.click(sequence, i * ms_per_click, capacity) for i in range(clicks)]

    seen["fast_spin"] = spin(8, 10, 200)  # 100 clicks a second
    seen["slow_turn"] = spin(8, 150, 200)  # counting one click at a time
    seen["fast_spin_back"] = spin(8, 10, 200, ccw)
    seen["fast_spin_small_capacity"] = spin(8, 10, 50)
    speed = quadrature.Acceleration()
    seen["acceleration"] = [
        speed.steps(2, 0, 200),  # a flick of two clicks in one poll
        speed.steps(3, 20, 200),  # the spin goes on: its 3rd, 4th and 5th clicks are fast
        speed.steps(1, 1000, 200),  # after a pause: one again
        speed.steps(-3, 1010, 200),  # a fast spin back: its first two clicks count one
    ]

    def chain(capacity, count, spins):
        """Pin levels -> Decoder -> Detents -> Acceleration -> Dial.turn, fake now."""
        dial = Dial([count], [capacity])
        knob = Knob()
        now = 0
        counts = []
        for sequence, clicks, ms_per_click in spins:
            for _ in range(clicks):
                now += ms_per_click
                steps = knob.click(sequence, now, capacity)
                if steps:
                    dial.turn(steps, now)
            counts.append(dial.counts[0])
        return counts

    seen["chain_big"] = chain(120, 0, [(cw, 10, 10), (cw, 40, 10), (ccw, 3, 200), (ccw, 40, 10)])
    seen["chain_small"] = chain(8, 3, [(cw, 20, 10), (ccw, 3, 200), (ccw, 20, 10)])
    return seen


MICROPYTHON_CODE = (
    "import json\n"
    + "from dialcore import quadrature\n"
    + "from dialcore.dial import Dial\n"
    + inspect.getsource(behaviour)
    + "print(json.dumps(behaviour(quadrature, Dial)))\n"
)


@pytest.fixture(scope="module")
def micropython_run():
    """behaviour() as MicroPython saw it."""
    return json.loads(run_micropython(MICROPYTHON_CODE, paths={"fw": FIRMWARE}))


@pytest.fixture(params=["cpython", "micropython"])
def seen(request, micropython_run):
    if request.param == "micropython":
        return micropython_run
    return json.loads(json.dumps(behaviour(quadrature, Dial)))  # tuples as lists, as JSON


def test_one_step_per_click_in_each_direction(seen):
    assert seen["clockwise"] == [0, 0, 0, 1, 0, 0, 0, 1]
    assert seen["clockwise_edges"] == 8
    assert seen["counter_clockwise"] == [0, 0, 0, -1, 0, 0, 0, -1]


def test_contact_bounce_gives_one_step_for_the_click(seen):
    assert sorted(seen["bounce"]) == [0] * (len(seen["bounce"]) - 1) + [1]


def test_turning_back_mid_click_gives_nothing_until_a_whole_click_back(seen):
    assert seen["half_and_back"] == [0, 0, 0, 0]
    assert seen["reversal"] == [0] * 9 + [-1]


def test_jitter_at_a_detent_gives_nothing(seen):
    assert seen["jitter"] == [0] * 6 + [0, 0, 0, 1] + [0] * 6


def test_fast_spins_of_a_big_channel_accelerate_slow_turns_do_not(seen):
    assert seen["fast_spin"] == [1, 1, 5, 5, 5, 5, 5, 5]
    assert seen["fast_spin_back"] == [-1, -1, -5, -5, -5, -5, -5, -5]
    assert seen["slow_turn"] == [1] * 8
    assert seen["fast_spin_small_capacity"] == [1] * 8
    assert seen["acceleration"] == [1 + 1, 5 + 5 + 5, 1, -(1 + 1 + 5)]


def test_the_chain_from_pin_levels_to_the_dial_clamps_to_capacity(seen):
    # 10 fast clicks: 1 + 1 + 8 x 5 = 42; 40 more end at the capacity; 3 slow clicks back;
    # a fast spin back ends at 0.
    assert seen["chain_big"] == [42, 120, 117, 0]
    # A small channel: every click is one, clamped at 8 and at 0.
    assert seen["chain_small"] == [8, 5, 0]
