"""Exports in standard formats for city systems (docs/exports.md).

GeoJSON and HSDS come from the same query as /shelters, as the public sees it, so they are
public too. The City of Toronto CSV comes from the reading history, because it reports a past
moment (the city's 4 AM count), and is for city staff.
"""

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from server import turnaways
from server.api.deps import KEY_OPTIONAL, CityDep, SessionDep, SettingsDep
from server.api.schemas import Error
from server.exports import hsds
from server.exports.geojson import feature_collection
from server.exports.toronto_csv import Clock, check_counted, latest_date, occupancy_csv
from server.models import utcnow
from server.queries import sites

router = APIRouter(prefix="/exports", tags=["exports"])


@router.get(
    "/shelters.geojson",
    response_class=JSONResponse,
    responses={200: {"content": {"application/geo+json": {}}}},
    openapi_extra=KEY_OPTIONAL,
)
def shelters_geojson(session: SessionDep, settings: SettingsDep) -> JSONResponse:
    body = feature_collection(sites(session, settings))
    return JSONResponse(body, media_type="application/geo+json")


@router.get(
    "/toronto-occupancy.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, 403: {"model": Error}},
)
def toronto_occupancy_csv(
    session: SessionDep,
    settings: SettingsDep,
    _role: CityDep,
    day: Annotated[
        date | None,
        Query(
            alias="date",
            description="Occupancy date (YYYY-MM-DD); its count is taken the next morning "
            "(SIGNAL_COUNT_TIME, 04:00 by default, in SIGNAL_TIMEZONE). Default: the newest "
            "date already counted.",
        ),
    ] = None,
) -> Response:
    """The City of Toronto's daily shelter occupancy CSV (32 columns) for one occupancy date.

    City staff only: like the city's own file, it lists confidential programs with their
    counts (not their location), which the public sees only in aggregates."""
    now, clock = utcnow(), Clock.of(settings)
    day = day or latest_date(now, clock)
    try:
        check_counted(day, now, clock)
    except ValueError as e:
        raise RequestValidationError([{"loc": ("query", "date"), "msg": str(e)}]) from None
    return Response(
        occupancy_csv(session, day, clock=clock),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="toronto-occupancy-{day}.csv"'},
    )


@router.get(
    "/turnaways.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, 403: {"model": Error}},
)
def turn_aways_csv(
    session: SessionDep,
    settings: SettingsDep,
    _role: CityDep,
    night: Annotated[
        date | None,
        Query(description="The night (YYYY-MM-DD: from noon that day). Default: last night."),
    ] = None,
) -> Response:
    """One night's turn-aways, a row per program and reason (docs/exports.md). City staff
    only: it names sites, confidential ones too."""
    night = night or turnaways.night_of(utcnow(), settings.zone) - timedelta(1)
    try:
        turnaways.check_night(night)
    except ValueError as e:
        raise RequestValidationError([{"loc": ("query", "night"), "msg": str(e)}]) from None
    return Response(
        turnaways.night_csv(session, night, settings.zone),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="turnaways-{night}.csv"'},
    )


@router.get("/hsds.json", response_class=JSONResponse, openapi_extra=KEY_OPTIONAL)
def hsds_json(session: SessionDep, settings: SettingsDep) -> JSONResponse:
    """HSDS 3.1: a page of services with their organization, location and free beds."""
    return JSONResponse(hsds.export(session, settings))
