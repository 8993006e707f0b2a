"""Sites with their programs' availability (what outreach workers and the map read), and
creating and editing sites (admin)."""

import math
from datetime import timedelta
from typing import Annotated, Literal

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import AwareDatetime
from sqlmodel import Session

from server import groups as grouping
from server.api.deps import KEY_OPTIONAL, AdminDep, RoleDep, RowId, SessionDep, SettingsDep
from server.api.list_cache import ListCache, send_answer
from server.api.schemas import Error, SiteCreate, SiteUpdate, validated
from server.models import MAX_AGE, Gender, Role, Sector, Site, utcnow
from server.pairing import config_changed, devices_at
from server.queries import Filters, changed_since, sites
from server.shapes import SiteChanges, SiteGroup, SiteGroups, SiteList, SitePublic

router = APIRouter(prefix="/shelters", tags=["shelters"])
NOT_FOUND = {404: {"model": Error, "description": "No such site, or not for this role"}}
ADMIN_ONLY = {403: {"model": Error, "description": "The key's role is below admin"}}
MAX_RADIUS_KM = 20_037.5  # half the Earth's circumference: no two points are farther apart
# A catch-up's `until` is this far back from now: a reading received just before is
# committed a moment later (an ingest batch), and sending a site twice is harmless.
CATCH_UP_MARGIN = timedelta(seconds=60)
BboxQuery = Annotated[
    str | None,
    Query(
        description="min_lon,min_lat,max_lon,max_lat: only sites in this box",
        examples=["-79.64,43.58,-79.11,43.86"],
    ),
]
# A first page of a list: the map asks for the 50 entries it shows (at 10,000 shelters 5 KB
# instead of 540); an app may ask for more, up to what a phone can still draw at once.
MAX_LIMIT = 1000
MAX_ZOOM = 30  # a map without tiles zooms in without end; pixels stop telling apart before


def _numbers(name: str, text: str, example: str, count: int) -> list[float]:
    """`count` comma-separated finite numbers, or a 422 naming the parameter."""
    try:
        numbers = [float(part) for part in text.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) != count or not all(math.isfinite(n) for n in numbers):
        raise HTTPException(422, f"{name}: write {count} numbers, e.g. {example}")
    return numbers


def _point(near: str) -> tuple[float, float]:
    lat, lon = _numbers("near", near, "near=43.6532,-79.3832", 2)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise HTTPException(422, "near: latitude is -90..90 and longitude -180..180, in that order")
    return lat, lon


def _box(bbox: str) -> tuple[float, float, float, float]:
    min_lon, min_lat, max_lon, max_lat = _numbers("bbox", bbox, "bbox=-79.64,43.58,-79.11,43.86", 4)
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise HTTPException(
            422, "bbox: min_lon,min_lat,max_lon,max_lat with each minimum below its maximum"
        )
    return min_lon, min_lat, max_lon, max_lat


@router.get("", response_model=SiteList, openapi_extra=KEY_OPTIONAL)
async def list_shelters(
    request: Request,
    role: RoleDep,
    sector: Annotated[
        list[Sector] | None, Query(description="Repeat for several: sector=women&sector=mixed")
    ] = None,
    has_space: Annotated[
        bool | None, Query(description="A matching program with at least one bed free")
    ] = None,
    accepting: Annotated[
        bool | None, Query(description="A matching program taking new guests")
    ] = None,
    pets_allowed: bool | None = None,
    wheelchair_accessible: bool | None = None,
    couples_allowed: bool | None = None,
    gender: Annotated[
        Gender | None, Query(description="Sites serving this gender, or any gender")
    ] = None,
    age: Annotated[
        int | None, Query(ge=0, le=MAX_AGE, description="Sites whose age limits include it")
    ] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Part of the name, any case")
    ] = None,
    near: Annotated[
        str | None,
        Query(
            description="lat,lon: adds distance_km and sorts by it", examples=["43.6532,-79.3832"]
        ),
    ] = None,
    radius_km: Annotated[
        float | None, Query(gt=0, le=MAX_RADIUS_KM, description="With near: only this close")
    ] = None,
    bbox: BboxQuery = None,
    order: Annotated[
        Literal["name", "distance", "free"] | None,
        Query(
            description="name; distance (needs near: its default); free: counts to act on "
            "with most beds free first, then full, stale and unknown ones (the map's order)"
        ),
    ] = None,
    limit: Annotated[
        int | None,
        Query(ge=1, le=MAX_LIMIT, description="Only the first this many; `total` counts all"),
    ] = None,
) -> Response:
    if radius_km is not None and near is None:
        raise HTTPException(422, "radius_km: needs near=lat,lon to measure from")
    if order == "distance" and near is None:
        raise HTTPException(422, "order=distance: needs near=lat,lon to measure from")
    filters = Filters(
        sectors=frozenset(sector or ()),
        has_space=has_space,
        accepting=accepting,
        pets_allowed=pets_allowed,
        wheelchair_accessible=wheelchair_accessible,
        couples_allowed=couples_allowed,
        gender=gender,
        age=age,
        q=q,
        near=_point(near) if near is not None else None,
        radius_km=radius_km,
        bbox=_box(bbox) if bbox is not None else None,
        order=order,
        limit=limit,
    )
    lists: ListCache = request.app.state.shelter_lists
    query = request.scope["query_string"]  # what the fast path looks the answer up by
    return send_answer(request, await lists.answer(role, filters, query))


@router.get("/changes", response_model=SiteChanges, openapi_extra=KEY_OPTIONAL)
def shelter_changes(
    since: Annotated[
        AwareDatetime,
        Query(description="The `until` of the last catch-up, or when the list was fetched"),
    ],
    session: SessionDep,
    settings: SettingsDep,
    role: RoleDep,
) -> SiteChanges:
    """What changed since `since`, for a page whose event stream was away (a phone in a dead
    zone): the changed sites as this key sees them, and the ids of changed sites it no longer
    sees (a warming centre closed, a site made confidential). An id says nothing about a
    site: no name, no place."""
    until = utcnow() - CATCH_UP_MARGIN
    changed = changed_since(session, since)
    items = sites(session, settings, changed, role) if changed else []
    gone = sorted(changed - {s.id for s in items})
    return SiteChanges(items=items, gone=gone, until=until)


@router.get("/groups", response_model=SiteGroups, openapi_extra=KEY_OPTIONAL)
async def shelter_groups(
    request: Request,
    role: RoleDep,
    settings: SettingsDep,
    zoom: Annotated[float | None, Query(ge=0, le=MAX_ZOOM, description="The map's zoom")] = None,
    width: Annotated[
        int | None, Query(ge=1, le=10_000, description="Without zoom: the map's width in px")
    ] = None,
    height: Annotated[
        int | None, Query(ge=1, le=10_000, description="Without zoom: the map's height in px")
    ] = None,
    bbox: BboxQuery = None,
) -> SiteGroups:
    """The markers of a map view, grouped where they would overlap (as the map groups them),
    for a page that does not have the whole list yet: at 10,000 shelters a few kilobytes
    instead of 540. Without `zoom`, at the zoom that fits every shelter in `width` x
    `height` pixels. A confidential shelter is never in them, whatever the key."""
    if zoom is None and (width is None or height is None):
        raise HTTPException(422, "zoom: give the map's zoom, or its width and height to fit")
    box = _box(bbox) if bbox is not None else None
    lists: ListCache = request.app.state.shelter_lists
    kept = await lists.answer(role, Filters())  # the list's own kept answer: no query of it
    if zoom is None:
        zoom = grouping.fit(kept.places, width, height)
    found = grouping.group(grouping.inside(kept.places, box) if box else kept.places, zoom)
    alone = [g.places[0].id for g in found if len(g.places) == 1]
    items = await to_thread.run_sync(_items, request, settings, set(alone), role)
    return SiteGroups(
        zoom=zoom,
        bounds=grouping.bounds(kept.places) if kept.places else None,
        groups=[
            SiteGroup(
                lat=g.places[0].lat,
                lon=g.places[0].lon,
                sites=len(g.places),
                free=g.free,
                unknown=g.unknown,
                bounds=g.bounds,
            )
            for g in found
            if len(g.places) > 1
        ],
        items=[s for s in items if not s.confidential],
        updated_at=kept.updated_at,
    )


def _items(request: Request, settings, ids: set[int], role) -> list[SitePublic]:
    """The shelters `ids` as the list shows them, in its order."""
    if not ids:
        return []
    with Session(request.app.state.engine) as session:
        return sites(session, settings, ids, role)


@router.get(
    "/{site_id}", response_model=SitePublic, responses=NOT_FOUND, openapi_extra=KEY_OPTIONAL
)
def get_shelter(
    site_id: RowId, session: SessionDep, settings: SettingsDep, role: RoleDep
) -> SitePublic:
    found = sites(session, settings, {site_id}, role)
    if not found:
        raise HTTPException(404, f"no shelter with id {site_id}")
    return found[0]


@router.post(
    "", response_model=SitePublic, status_code=status.HTTP_201_CREATED, responses=ADMIN_ONLY
)
def create_shelter(
    body: SiteCreate, session: SessionDep, settings: SettingsDep, _role: AdminDep
) -> SitePublic:
    site = Site.model_validate(body, update={"edited_at": utcnow()})
    session.add(site)
    session.commit()
    return sites(session, settings, {site.id}, Role.admin)[0]


@router.patch("/{site_id}", response_model=SitePublic, responses={**NOT_FOUND, **ADMIN_ONLY})
def update_shelter(
    site_id: RowId, body: SiteUpdate, session: SessionDep, settings: SettingsDep, _role: AdminDep
) -> SitePublic:
    site = session.get(Site, site_id)
    if site is None:
        raise HTTPException(404, f"no shelter with id {site_id}")
    changes = body.model_dump(exclude_unset=True)
    validated(SiteCreate, site.model_dump() | changes)
    if changes.get("name", site.name) != site.name:
        config_changed(session, devices_at(session, site_id))  # dials show the shelter name
    site.sqlmodel_update(changes | {"edited_at": utcnow()})
    session.add(site)
    session.commit()
    return sites(session, settings, {site_id}, Role.admin)[0]
