"""The pages people open in a browser: the live map at /."""

from functools import cache

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from map import map_html
from server.api.deps import SettingsDep

router = APIRouter(include_in_schema=False)


@cache
def _map_page(api_base: str, tiles_url: str, tiles_attribution: str) -> str:
    return map_html(
        api_base=api_base,
        static_base="/static",
        tiles_url=tiles_url,
        tiles_attribution=tiles_attribution,
    )


@router.get("/", response_class=HTMLResponse)
def live_map(settings: SettingsDep) -> HTMLResponse:
    return HTMLResponse(_map_page("/api/v1", settings.tiles_url, settings.tiles_attribution))
