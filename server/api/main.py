"""The FastAPI application: API under /api/v1, the live map at /."""

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware

from map import STATIC_DIR
from server import alerts as alerts_watch
from server import holds
from server import metrics as prometheus
from server import sms as texts
from server.api.deps import get_role
from server.api.list_cache import GZIP_LEVEL, FastPath, ListCache
from server.api.live import Broadcaster
from server.api.routes import (
    alerts,
    api_keys,
    devices,
    dial,
    events,
    exports,
    firmware,
    health,
    history,
    metrics,
    pages,
    programs,
    shelters,
    sms,
    summary,
    turnaways,
)
from server.api.routes import (
    holds as hold_routes,
)
from server.api.schemas import Error
from server.auth import Keyring, RateLimiter
from server.settings import Settings
from server.sms import wishes

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"
# How often holds whose time is up are ended: a hold leaves the map within a second or two
# of its time; the look is one indexed query that finds nothing almost every time.
EXPIRY_SWEEP_S = 1.0
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}
# Answers any API route may give; routes add the ones particular to them (403, 404, 409).
ERRORS = {
    401: {"model": Error, "description": "A key was sent but is not valid, or one is needed"},
    422: {"model": Error, "description": "A parameter or the body is not valid: see the message"},
    429: {"model": Error, "description": "Too many requests without a key: see Retry-After"},
}
# Routes that read an API key (deps.get_role) may also refuse one sent in both headers
KEYED_ERRORS = {
    400: {"model": Error, "description": "A key sent twice: as Authorization and as X-API-Key"},
    **ERRORS,
}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def keep_time(engine: Engine, settings: Settings) -> None:
    """End holds at their time, and mark the sites whose surge programs opened or closed
    (server/alerts.py), whether or not anyone is connected; the event stream then sends
    those sites. Every API process runs it: doing either twice changes nothing."""
    watcher = alerts_watch.Watcher()
    while True:
        await asyncio.sleep(EXPIRY_SWEEP_S)
        try:
            await asyncio.to_thread(_look, engine, settings, watcher)
        except Exception:  # a database hiccup must not end the sweeps
            log.exception("ending expired holds or opening surge programs failed; retrying")


def _look(engine: Engine, settings: Settings, watcher) -> None:
    with Session(engine) as session:
        holds.expire(session)
        watcher.look(session, settings.zone)


def create_app(settings: Settings, engine: Engine) -> FastAPI:
    """Build the app on an engine whose database is already migrated."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await app.state.broadcaster.start()
        tasks = [asyncio.create_task(keep_time(engine, settings))]
        if app.state.sms.wishes is not None:  # texts to send when beds open
            tasks.append(asyncio.create_task(wishes.watch(engine, app.state.sms.wishes)))
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app.state.broadcaster.stop()
        await app.state.shelter_lists.close()

    app = FastAPI(
        title="Shelter Signal",
        version="1.0.0",
        summary="Real-time shelter capacity from front-desk dials.",
        lifespan=lifespan,
        # pages.py serves /docs with the vendored Swagger UI; ReDoc would need a CDN
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.broadcaster = Broadcaster(engine, settings)
    app.state.broker_check = health.BrokerCheck()
    # The broker the web dial and /ready use; server/runner.py sets the embedded one's
    app.state.mqtt_url = settings.mqtt_url
    app.state.shelter_lists = ListCache(engine, settings)  # kept answers: one cache per database
    # What /metrics shows; server/runner.py adds the ingestor's when it runs in this process
    app.state.metrics = prometheus.combined(prometheus.API)
    app.state.keyring = Keyring(settings.admin_api_key)
    app.state.limiter = RateLimiter(settings.public_rate_per_minute, settings.public_rate_burst)
    app.state.sms = texts.start(settings)  # wishes by SMS live in this process's memory
    for module in (
        shelters,
        programs,
        hold_routes,
        summary,
        history,
        devices,
        firmware,
        api_keys,
        events,
        exports,
        turnaways,
        alerts,
        sms,
    ):
        app.include_router(
            module.router,
            prefix=API_PREFIX,
            dependencies=[Depends(get_role)],
            responses=KEYED_ERRORS,
        )
    app.include_router(health.router, prefix=API_PREFIX)  # for supervisors: no key, no limit
    # Where Prometheus looks by default; a key is checked (and the public limited) as in /api
    app.include_router(metrics.router, dependencies=[Depends(get_role)], responses=KEYED_ERRORS)
    # The web dial checks its own device secret in the Authorization header: without get_role,
    # or the secret would be checked (and refused) as an API key.
    app.include_router(dial.router, prefix=API_PREFIX, responses=ERRORS)
    # The SMS provider's webhook checks its own token, likewise (routes/sms.py)
    app.include_router(sms.webhook, prefix=API_PREFIX, responses=ERRORS)
    app.include_router(dial.pages)

    app.include_router(pages.router)
    # Kept public lists straight from memory, before FastAPI's per-request work: with nothing
    # committed, as many requests a second as a bare endpoint (docs/benchmarks.md). Added
    # first, so that every other middleware wraps it and treats its answers as the route's.
    app.add_middleware(
        FastPath,
        path=f"{API_PREFIX}/shelters",
        lists=app.state.shelter_lists,
        limiter=app.state.limiter,
    )
    # Phones on a weak signal: the map's first view is ~80 KB gzipped instead of ~320 KB.
    # Starlette never compresses text/event-stream, so the live feed is not held back (it
    # gzips itself, event by event: routes/events.py).
    # Level 6 instead of 9: half the CPU for a body ~3% larger (docs/benchmarks.md).
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=GZIP_LEVEL)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        response = _error(exc.status_code, CODES.get(exc.status_code, "error"), str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        # "sector: ..." reads better than "query.sector.0: ..." (the position of a repeated
        # query parameter says nothing); in a body, "channels.0.label" does say which
        place, *path = first["loc"] or ("body",)
        if place == "query":
            path = [p for p in path if not isinstance(p, int)]
        where = ".".join(str(p) for p in path)
        message = first["msg"].removeprefix("Value error, ")
        return _error(422, CODES[422], f"{where}: {message}" if where else message)

    @app.exception_handler(Exception)
    async def server_error(_request: Request, _exc: Exception) -> JSONResponse:
        # Starlette re-raises the exception after this answer, so the server logs it in full
        return _error(500, "internal_error", "something failed on the server; it is logged")

    return app
