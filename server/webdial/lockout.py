"""Too many wrong secrets for a dial from one client: refuse further tries for a while.

Secrets are random 256-bit tokens, so guessing one is hopeless anyway; the pause stops a
flood of wrong tries from costing a deliberately slow hash each (server/credentials.py).
Counted per (dial, client address), so a stranger's wrong tries cannot lock the shelter's
own staff out of their dial.
"""

import math
import threading
import time
from collections.abc import Callable

MAX_FAILURES = 10  # someone retyping a secret by hand stays well under this
WINDOW_S = 15 * 60  # failures are forgotten this long after the first; a pause lasts as long

Key = tuple[str, str]  # (device id, client address)


class Lockout:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()  # route functions run in a thread pool
        self._failures: dict[Key, tuple[int, float]] = {}  # key -> (count, first failure at)

    def wait_s(self, key: Key) -> int:
        """Seconds until `key` may try again; 0 when it may try now."""
        with self._lock:
            count, since = self._failures.get(key, (0, 0.0))
        left = since + WINDOW_S - self._clock()
        return math.ceil(left) if count >= MAX_FAILURES and left > 0 else 0

    def failed(self, key: Key) -> None:
        now = self._clock()
        with self._lock:
            expired = [k for k, (_, since) in self._failures.items() if now - since >= WINDOW_S]
            for old in expired:  # keeps the table as small as the last window's failures
                del self._failures[old]
            count, since = self._failures.get(key, (0, now))
            self._failures[key] = (count + 1, since)

    def succeeded(self, key: Key) -> None:
        with self._lock:
            self._failures.pop(key, None)
