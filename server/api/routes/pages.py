"""The pages people open in a browser: the live map at /, the city staff page at /city and
the API reference at /docs.

Both (and the web dial, routes/dial.py) come in the reader's language: `?lang=fr` chooses
(and is remembered in a cookie), else the browser's Accept-Language, else English
(map/i18n.py).
"""

from email.utils import formatdate
from functools import cache
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from map import city_html, i18n, map_html
from map.page import BUNDLE_DIR, BUNDLES, STATIC_DIR, LiveTiming, bundle
from server.api.csp import page_headers
from server.api.deps import SettingsDep

router = APIRouter(include_in_schema=False)
API_BASE = "/api/v1"
LANG_COOKIE = "ss_lang"  # the reader's language choice; nothing else is stored about them
LANG_COOKIE_SECONDS = 365 * 24 * 3600  # a year: outreach phones keep their language
LangQuery = Annotated[str | None, Query(description="Language tag, e.g. en or fr")]
SWAGGER_UI = "/static/vendor/swagger-ui"  # vendored, like Leaflet: /docs works offline


@cache
def _map_page(
    lang: str, tiles_url: str, tiles_attribution: str, timing: LiveTiming, texts: bool
) -> tuple[str, dict[str, str]]:
    html = map_html(
        lang=lang,
        api_base=API_BASE,
        static_base="/static",
        tiles_url=tiles_url,
        tiles_attribution=tiles_attribution,
        timing=timing,
        texts=texts,
    )
    return html, page_headers(html, image_url=tiles_url)


@cache
def _city_page(lang: str) -> tuple[str, dict[str, str]]:
    html = city_html(lang=lang, api_base=API_BASE, static_base="/static")
    return html, page_headers(html)


def in_language(request: Request, asked: str | None, render) -> HTMLResponse:
    """The page `render(lang)` gives as (html, headers), in the language chosen for this
    request; a language asked for in the URL is remembered for the next page."""
    lang = i18n.choose(
        asked, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")
    )
    html, headers = render(lang)
    response = HTMLResponse(
        html, headers={**headers, "Content-Language": lang, "Vary": "Accept-Language, Cookie"}
    )
    if asked and asked.lower() == lang.lower():
        response.set_cookie(LANG_COOKIE, lang, max_age=LANG_COOKIE_SECONDS, samesite="lax")
    return response


@router.get("/", response_class=HTMLResponse)
def live_map(request: Request, settings: SettingsDep, lang: LangQuery = None) -> HTMLResponse:
    return in_language(
        request,
        lang,
        lambda chosen: _map_page(
            chosen,
            settings.tiles_url,
            settings.tiles_attribution,
            LiveTiming(
                settings.fresh_minutes,
                settings.stale_minutes,
                settings.events_keepalive_seconds,
                settings.timezone,
            ),
            settings.sms_webhook_url is not None,
        ),
    )


@router.get("/sw.js")
def service_worker() -> FileResponse:
    """The map's service worker, at the root so that it may keep the page at / (a worker
    only controls pages under its own path)."""
    return FileResponse(
        STATIC_DIR / "sw.js",
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache"},  # a new version reaches phones at once
    )


@router.get(f"/static/{BUNDLE_DIR}/{{name}}")
def static_bundle(name: str, request: Request) -> Response:
    """The map's scripts or styles as one file (map/page.py BUNDLES): a route before the
    /static files, which hold the parts."""
    if name not in BUNDLES:
        raise HTTPException(404, f"no bundle {name!r}; there are {', '.join(BUNDLES)}")
    body, etag, modified = bundle(name)
    # As StaticFiles sends its files: a browser keeps them by their age, and asks again
    # with the ETag (an unchanged server answers 304 without a body)
    headers = {"ETag": etag, "Last-Modified": formatdate(modified, usegmt=True)}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    kind = "text/javascript" if name.endswith(".js") else "text/css"
    return Response(body, media_type=kind, headers=headers)


@router.get("/city", response_class=HTMLResponse)
def city_page(request: Request, lang: LangQuery = None) -> HTMLResponse:
    return in_language(request, lang, _city_page)


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI on /openapi.json, every asset from this server (FastAPI's own /docs loads
    them from a CDN, and is blank offline)."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} API",
        swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
        # null, not left out: Swagger UI would send the whole API description to its
        # public validator service for a badge
        swagger_ui_parameters={"validatorUrl": None},
    )
