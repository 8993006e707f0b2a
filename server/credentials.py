"""Secrets for devices and API keys: shown once, stored only as a salted hash.

PBKDF2-SHA256 from the standard library (no extra dependency); comparison in constant
time so a wrong key's timing says nothing about the right one.
"""

import hashlib
import hmac
import secrets

ITERATIONS = 200_000  # OWASP's 2023 floor for PBKDF2-SHA256 is 600k for passwords; these are
# random 256-bit tokens, not guessable passwords, so a lower count costs an attacker nothing
# they could use, and keeps a request under a few milliseconds on a small server.
PREFIX = "pbkdf2_sha256"


def new_secret() -> str:
    """A random token (256 bits) to hand out once."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt.encode(), ITERATIONS)
    return f"{PREFIX}${ITERATIONS}${salt}${digest.hex()}"


def verify(secret: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        prefix, iterations, salt, expected = stored.split("$")
    except ValueError:
        return False
    if prefix != PREFIX:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt.encode(), int(iterations))
    return hmac.compare_digest(digest.hex(), expected)
