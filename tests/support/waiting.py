"""Polling with a deadline: tests wait for behaviour, they never assert timings.

Every deadline in the tests is written for a quiet machine and stretched by one factor,
SIGNAL_TEST_WAIT_SCALE: default 2, for a 2-core CI machine shared with other work (with
four CPU hogs beside the tests, the slowest of the waits measured took a third of its
written deadline); 1 gives the written values. A deadline only bounds how long a failing
test takes to say so: a passing test never waits it out, so a larger factor costs nothing
but slower failures. `wait_until` scales its own timeout; every other deadline (a thread,
process or queue wait, an HTTP client's timeout, a Playwright wait in ms) is written
`scaled(n)`. The `browser` fixture scales Playwright's default wait, and tests/conftest.py
pytest-timeout's limit per test.
"""

import os
import time

SCALE = float(os.environ.get("SIGNAL_TEST_WAIT_SCALE", "2"))


def scaled(seconds: float) -> float:
    """A deadline of `seconds` on a quiet machine, stretched by SIGNAL_TEST_WAIT_SCALE."""
    return seconds * SCALE


def wait_until(check, timeout: float = 10.0, interval: float = 0.05, message=""):
    """Call `check` until it returns something truthy; return that, or fail after
    `scaled(timeout)` seconds. `message` says what was awaited: a string, or a function
    called at the failure (a log read then, not when the wait began)."""
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            said = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout:g} s: {said or check}")
        time.sleep(interval)
