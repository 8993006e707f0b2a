"""Turning, settling and pressing: when a change becomes a commit."""

from firmware.dialcore.dial import Dial


def test_a_turn_commits_once_the_dial_is_still_for_the_settle_time():
    dial = Dial([5], [20], settle_ms=2000)
    dial.turn(3, now=1000)
    assert dial.editing and dial.counts == [8]
    assert not dial.due(2999)
    dial.turn(1, now=2500)  # still turning: the settle time starts again
    assert not dial.due(4499)
    assert dial.due(4500) and dial.counts == [9]
    assert not dial.due(9000)  # committed once


def test_counts_clamp_to_zero_and_capacity():
    dial = Dial([1], [4])
    dial.turn(-5, now=0)
    assert dial.counts == [0]
    dial.turn(9, now=0)
    assert dial.counts == [4]


def test_turning_back_to_the_committed_count_commits_nothing():
    dial = Dial([5], [20], settle_ms=100)
    dial.turn(2, now=0)
    dial.turn(-2, now=50)
    assert not dial.editing and not dial.due(1000)


def test_press_commits_now_and_next_channel_cycles():
    dial = Dial([1, 2], [10, 10])
    dial.turn(1, now=0)
    dial.press()
    assert not dial.editing and dial.committed == [2, 2]
    dial.next_channel()
    dial.turn(1, now=0)
    assert dial.counts == [2, 3]
    dial.next_channel()
    assert dial.channel == 0


def test_reconfigure_lowers_impossible_counts_and_says_so():
    dial = Dial([15, 3], [20, 10])
    assert dial.reconfigure([12, 10]) is True
    assert dial.counts == [12, 3]
    assert dial.reconfigure([12, 10, 5]) is False  # a new channel starts at 0
    assert dial.counts == [12, 3, 0]


def test_saved_counts_longer_than_the_config_are_cut_and_clamped():
    assert Dial([30, 4, 9], [20]).counts == [20]
