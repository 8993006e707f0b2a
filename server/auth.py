"""API keys and the public rate limit: who is calling, and whether they may call again now.

A key is checked with a salted PBKDF2 hash (server/credentials.py), which is slow on
purpose (tens of milliseconds). So a key that checked out once is remembered by its SHA-256
in memory, and later requests only look up that it is still not revoked. A key that does
not check out is never remembered, and counts against the caller's public rate limit; a
caller over that limit gets no slow check at all.
"""

import hashlib
import math
import secrets
import threading
import time
from typing import NamedTuple

from pydantic import SecretStr
from sqlmodel import Session, select

from server.credentials import hash_secret, new_secret, verify
from server.models import ApiKey, Role

BOOTSTRAP = 0  # remembered in place of a key id: the admin key from SIGNAL_ADMIN_API_KEY


def issue_key(session: Session, name: str, role: Role) -> tuple[ApiKey, str]:
    """A new key: the row (with only the hash) and the key itself, to show once."""
    lookup, secret = secrets.token_hex(8), new_secret()  # 64-bit lookup: collisions never
    key = ApiKey(name=name, role=role, lookup=lookup, key_hash=hash_secret(secret))
    session.add(key)
    session.flush()
    return key, f"{lookup}.{secret}"


class Caller(NamedTuple):
    """Who presented a key: its role, and its id (BOOTSTRAP for SIGNAL_ADMIN_API_KEY)."""

    role: Role
    key_id: int


class Keyring:
    """Turns a presented key into a Caller."""

    def __init__(self, admin_key: SecretStr | None):
        # Hashed like any other key: the plain value is not kept, and the comparison is the
        # same constant-time check.
        self._admin_hash = hash_secret(admin_key.get_secret_value()) if admin_key else None
        self._known: dict[str, int] = {}  # SHA-256 of a checked key -> its id, or BOOTSTRAP
        self._lock = threading.Lock()

    def remembered(self, session: Session, presented: str) -> Caller | None:
        """A key checked before and not revoked since; None if not known."""
        with self._lock:
            key_id = self._known.get(_digest(presented))
        if key_id is None:
            return None
        if key_id == BOOTSTRAP:
            return Caller(Role.admin, BOOTSTRAP)
        key = session.get(ApiKey, key_id)
        if key is None or key.revoked_at is not None:
            with self._lock:
                self._known.pop(_digest(presented), None)
            return None
        return Caller(key.role, key_id)

    def check(self, session: Session, presented: str) -> Caller | None:
        """The slow, full check of a key not remembered; None if it is not a valid key."""
        lookup, dot, secret = presented.partition(".")
        key = session.exec(select(ApiKey).where(ApiKey.lookup == lookup)).first() if dot else None
        if key is not None:
            # The hash first, also for a revoked key: a revoked key then takes as long to
            # refuse as a wrong one, and its timing does not tell that it was once valid
            if not verify(secret, key.key_hash) or key.revoked_at is not None:
                return None
            key_id, role = key.id, key.role
        elif verify(presented, self._admin_hash):
            key_id, role = BOOTSTRAP, Role.admin
        else:
            return None
        with self._lock:
            self._known[_digest(presented)] = key_id
        return Caller(role, key_id)


def _digest(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


class RateLimiter:
    """A token bucket per client: `burst` requests at once, refilled at `per_minute`."""

    PRUNE_AT = 10_000  # clients remembered before the idle ones (full buckets) are dropped

    def __init__(self, per_minute: float, burst: int):
        self.rate = per_minute / 60  # tokens per second
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._lock = threading.Lock()

    def wait(self, client: str) -> int:
        """0 if the client may make a request now, else the whole seconds until it may."""
        with self._lock:
            tokens = self._tokens(client, time.monotonic())
        return self._seconds(tokens)

    def spend(self, client: str) -> int:
        """Like `wait`; when the answer is 0, the request is counted against the client."""
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) >= self.PRUNE_AT:
                self._prune(now)
            tokens = self._tokens(client, now)
            seconds = self._seconds(tokens)
            self._buckets[client] = (tokens - 1 if seconds == 0 else tokens, now)
        return seconds

    def _tokens(self, client: str, now: float) -> float:
        tokens, at = self._buckets.get(client, (self.burst, now))
        return min(self.burst, tokens + (now - at) * self.rate)

    def _seconds(self, tokens: float) -> int:
        return 0 if tokens >= 1 else math.ceil((1 - tokens) / self.rate)

    def _prune(self, now: float) -> None:
        """Forget clients whose bucket has refilled: to them, forgetting changes nothing."""
        self._buckets = {
            client: (tokens, at)
            for client, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.rate < self.burst
        }
