"""Phone numbers as the server keeps them: a salted hash with a short life, in memory.

The salt is drawn at each start and never leaves the process, so a hash means nothing
after a restart or outside the process: there is no setting for it because nothing salted
is ever stored or sent. A number itself lives only in a wish waiting for a bed
(server/sms/wishes.py) and in the request that brought it.
"""

import hashlib
import secrets
import threading
import time
from collections import deque

SALT_BYTES = 16  # 128 bits: no table of numbers hashed in advance can match
# Answers to one sender in an hour: a person looking for a bed asks a few times a night;
# more is a loop between two auto-responders, which would bill the city a text a second.
REPLIES_PER_HOUR = 10
HOUR_S = 3600


class Numbers:
    def __init__(self):
        self._salt = secrets.token_bytes(SALT_BYTES)
        self._replies: dict[str, deque[float]] = {}  # hash -> times answered, the last hour
        self._lock = threading.Lock()  # routes run in worker threads

    def hashed(self, number: str) -> str:
        digits = "".join(c for c in number if c.isdigit() or c == "+")
        return hashlib.sha256(self._salt + digits.encode()).hexdigest()

    def may_answer(self, number: str) -> bool:
        """Count an answer to `number`; False when it had REPLIES_PER_HOUR in the last hour.
        Hashes of senders not heard from for an hour are forgotten."""
        now = time.monotonic()
        with self._lock:
            for key in [k for k, times in self._replies.items() if times[-1] <= now - HOUR_S]:
                del self._replies[key]
            times = self._replies.setdefault(self.hashed(number), deque())
            while times and times[0] <= now - HOUR_S:
                times.popleft()
            if len(times) >= REPLIES_PER_HOUR:
                return False
            times.append(now)
            return True
