"""Exports for city systems, from the same query as /shelters."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from server.api.deps import SessionDep, SettingsDep
from server.exports.geojson import feature_collection
from server.queries import sites

router = APIRouter(prefix="/exports", tags=["exports"])


@router.get(
    "/shelters.geojson",
    response_class=JSONResponse,
    responses={200: {"content": {"application/geo+json": {}}}},
)
def shelters_geojson(session: SessionDep, settings: SettingsDep) -> JSONResponse:
    body = feature_collection(sites(session, settings))
    return JSONResponse(body, media_type="application/geo+json")
