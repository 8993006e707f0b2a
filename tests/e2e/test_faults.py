"""A real day of a few Toronto sites on real dials, with one fault of each kind: nothing lost,
nothing doubled. `make soak` runs the same code (bench/faults.py) longer and bigger."""

import pytest

from bench.faults import FAULTS, Config, run
from tests.support import aio
from tests.support.data import TORONTO_NIGHTS

pytestmark = [pytest.mark.mosquitto, pytest.mark.postgres]


def test_a_day_under_every_fault_keeps_every_commit_exactly_once(tmp_path):
    config = Config(
        data=TORONTO_NIGHTS,  # holds the day (2024-03-25) and the night before
        sites=8,  # a few sites, some with several programs (channels)
        day_seconds=15,
        faults=dict.fromkeys(FAULTS, 1),
        outage_seconds=3,  # long enough for the dial to fail reconnecting and back off
        settle_ms=300,  # a quick hand: the compressed day moves fast
        progress=print,
    )
    result = aio.in_thread(run, config, tmp_path)  # it starts an event loop of its own
    print("\n".join(result.lines()))

    # History is exactly what the broker accepted; each program's current state is its
    # dial's last commit; nothing refused.
    assert result.exact
    assert result.expected > result.dials  # the day moved, beyond the opening commits
    assert result.duplicates_refused >= result.raw_sent > 0  # copies came, none was stored
    assert all(result.faults[kind] >= 1 for kind in FAULTS)
