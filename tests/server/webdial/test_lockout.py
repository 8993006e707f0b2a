"""Wrong secrets pause a (dial, client) pair, and only that pair, for a while."""

from server.webdial.lockout import MAX_FAILURES, WINDOW_S, Lockout


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_too_many_failures_pause_that_dial_and_client_until_the_window_ends():
    clock = Clock()
    lockout = Lockout(clock)
    key, other_client, other_dial = ("web-a", "10.0.0.1"), ("web-a", "10.0.0.2"), ("web-b", "x")
    for _ in range(MAX_FAILURES - 1):
        lockout.failed(key)
    assert lockout.wait_s(key) == 0  # not yet

    lockout.failed(key)

    assert lockout.wait_s(key) == WINDOW_S
    assert lockout.wait_s(other_client) == lockout.wait_s(other_dial) == 0
    clock.now += WINDOW_S
    assert lockout.wait_s(key) == 0
    lockout.failed(key)  # a new window: counting starts again
    assert lockout.wait_s(key) == 0


def test_a_right_secret_clears_the_failures():
    lockout = Lockout(Clock())
    key = ("web-a", "10.0.0.1")
    for _ in range(MAX_FAILURES - 1):
        lockout.failed(key)

    lockout.succeeded(key)
    lockout.failed(key)

    assert lockout.wait_s(key) == 0
