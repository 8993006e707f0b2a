"""mqtt://host:port URLs, as the settings and the command line take them."""

from urllib.parse import urlsplit

DEFAULT_PORT = 1883  # IANA's port for MQTT without TLS


def parse(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "mqtt" or not parts.hostname:
        raise ValueError(f"not an mqtt://host:port URL: {url!r}")
    return parts.hostname, parts.port or DEFAULT_PORT
