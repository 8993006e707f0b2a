"""Polling with a deadline: tests wait for behaviour, they never assert timings."""

import time


def wait_until(check, timeout: float = 10.0, interval: float = 0.05, message: str = ""):
    """Call `check` until it returns something truthy; return that, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s: {message or check}")
        time.sleep(interval)
