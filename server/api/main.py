"""The FastAPI application: API under /api/v1, the live map at /."""

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException

from map import STATIC_DIR
from server.api.live import Broadcaster
from server.api.routes import events, exports, health, pages, shelters
from server.settings import Settings

API_PREFIX = "/api/v1"


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def create_app(settings: Settings, engine: Engine) -> FastAPI:
    """Build the app on an engine whose database is already migrated."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await app.state.broadcaster.start()
        yield
        await app.state.broadcaster.stop()

    app = FastAPI(
        title="Shelter Signal",
        version="1.0.0",
        summary="Real-time shelter capacity from front-desk dials.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.broadcaster = Broadcaster(engine, settings)
    for module in (shelters, events, exports, health):
        app.include_router(module.router, prefix=API_PREFIX)

    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
        return _error(exc.status_code, codes.get(exc.status_code, "error"), str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return _error(422, "invalid_request", f"{where}: {first['msg']}")

    return app
