"""Liveness and readiness for process supervisors and load balancers (docs/api.md#health).

`/health` says the process answers, and checks nothing else: a supervisor that restarts
the API because the database is down would only add restarts to an outage. `/ready` says
whether this process can do its work now: the database answers and the broker accepts a
login with the configured account (and TLS). The proxy sends traffic only to ready ones.
"""

import asyncio
import logging
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import Engine

from server import mqtt_url
from server.api.schemas import Error

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])
# Each check gives up after this long, so /ready answers within it (the checks run at once):
# set the prober's timeout above it. A healthy database or broker answers in milliseconds.
CHECK_TIMEOUT_S = 2.0
# A broker login is reused this long: probes every few seconds from several supervisors
# must not each open a connection. A database check is one pooled SELECT, so it is not cached.
BROKER_CACHE_S = 5.0


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    responses={503: {"model": Error, "description": "The database or the broker is not reachable"}},
)
async def ready(request: Request) -> dict[str, str]:
    state = request.app.state
    broker_url = state.mqtt_url
    database, broker = await asyncio.gather(
        _bounded(asyncio.to_thread(_check_database, state.engine)),
        state.broker_check.result(broker_url, state.settings.mqtt_ca_file),
    )
    if database is None and broker is None:
        return {"status": "ready", "database": "ok", "broker": "ok" if broker_url else "not used"}
    failed = "; ".join(
        f"{part}: {why}" for part, why in (("database", database), ("broker", broker)) if why
    )
    return JSONResponse(
        {"error": {"code": "unavailable", "message": f"not ready: {failed}"}}, status_code=503
    )


async def _bounded(check) -> str | None:
    """None when the check passed in time, else why not (the exception's class only: this
    answer is public, the details go to the log)."""
    try:
        await asyncio.wait_for(check, CHECK_TIMEOUT_S)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_S:g} s"
    except LoginRefused as e:
        return f"refused the login ({e})"
    except Exception as e:
        log.warning("readiness check failed: %r", e)
        return f"unreachable ({type(e).__name__})"
    return None


def _check_database(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


class BrokerCheck:
    """The broker's last readiness result, refreshed when older than `cache_s`."""

    def __init__(self, cache_s: float = BROKER_CACHE_S):
        self.cache_s = cache_s
        self._lock = asyncio.Lock()  # concurrent probes wait for one login, not one each
        self._checked_at: float | None = None
        self._why: str | None = None

    async def result(self, url: str | None, ca_file: Path | None) -> str | None:
        if url is None:  # `serve` without SIGNAL_MQTT_URL: this process uses no broker
            return None
        async with self._lock:
            if self._checked_at is None or time.monotonic() - self._checked_at >= self.cache_s:
                self._why = await _bounded(asyncio.to_thread(_log_in, url, ca_file))
                self._checked_at = time.monotonic()
            return self._why


def _log_in(url: str, ca_file: Path | None) -> None:
    """Connect as the server's MQTT clients do and wait for the broker's CONNACK."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"shelter-signal-ready-{uuid.uuid4().hex[:8]}"
    )
    mqtt_url.secure(client, url, ca_file)
    client.connect_timeout = CHECK_TIMEOUT_S
    answer = []
    client.on_connect = lambda _c, _u, _f, reason_code, _p: answer.append(reason_code)
    host, port = mqtt_url.parse(url)
    client.connect(host, port, keepalive=60)
    try:
        deadline = time.monotonic() + CHECK_TIMEOUT_S
        while not answer and time.monotonic() < deadline:
            client.loop(timeout=0.05)
        if not answer:
            raise TimeoutError("no CONNACK")
        if answer[0].is_failure:
            raise LoginRefused(str(answer[0]))
    finally:
        client.disconnect()


class LoginRefused(Exception):
    """The broker answered and said no (a wrong account, or one it does not allow)."""
