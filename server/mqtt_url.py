"""Broker URLs, as the settings and the command line take them.

`mqtt://host:port` plain, `mqtts://host:port` with TLS; either may carry an account,
`mqtt://user:password@host` (percent-encode special characters, as in a database URL).
Every MQTT client of the server (ingestor, web dial, simulator) connects through `secure`,
so a production broker with passwords and TLS needs nothing but the URL and a CA file.
"""

from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit

import paho.mqtt.client as mqtt

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}  # IANA's ports for MQTT without and with TLS


def _split(url: str) -> SplitResult:
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an mqtt://host:port or mqtts://host:port URL: {redact(url)!r}")
    return parts


def parse(url: str) -> tuple[str, int]:
    parts = _split(url)
    return parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme]


def secure(client: mqtt.Client, url: str, ca_file: Path | None = None) -> None:
    """Log `client` in with the URL's account, and for mqtts:// turn on TLS that checks the
    broker's certificate and host name against `ca_file` (else the system's CAs)."""
    parts = _split(url)
    if parts.username:
        password = unquote(parts.password) if parts.password is not None else None
        client.username_pw_set(unquote(parts.username), password)
    if parts.scheme == "mqtts":
        client.tls_set(ca_certs=str(ca_file) if ca_file else None)  # verifies by default


def redact(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
