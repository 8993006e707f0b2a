"""Run asyncio code to the end from a test, whatever else the test session runs.

Once the session's browser fixture has started, Playwright's sync API keeps an event loop
running on the main thread, where asyncio.run refuses to start another: a test that passes
alone would fail after any browser test. So asyncio runs in a thread of its own.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor


def in_thread(function, *args):
    """`function(*args)` in a fresh thread (one that may start an event loop); its result."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(function, *args).result()


def run(coroutine):
    """asyncio.run(coroutine), in a fresh thread."""
    return in_thread(asyncio.run, coroutine)
