"""Sites with their programs' availability (what outreach workers and the map read), and
creating and editing sites (admin)."""

import asyncio
import gzip
import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from server.api.deps import KEY_OPTIONAL, AdminDep, RoleDep, RowId, SessionDep, SettingsDep
from server.api.schemas import Error, SiteCreate, SiteList, SitePublic, SiteUpdate, validated
from server.models import MAX_AGE, Gender, Role, Sector, Site, utcnow
from server.pairing import config_changed, devices_at
from server.queries import Filters, data_version, freshness_changes_at, sites

router = APIRouter(prefix="/shelters", tags=["shelters"])
NOT_FOUND = {404: {"model": Error, "description": "No such site, or not for this role"}}
ADMIN_ONLY = {403: {"model": Error, "description": "The key's role is below admin"}}
MAX_RADIUS_KM = 20_037.5  # half the Earth's circumference: no two points are farther apart
# Lists kept per process, one per role and filters: the map and the outreach apps ask a
# handful of the same questions; a search near a point is rarely repeated, and each kept list
# is about 0.6 MB (plus 45 KB gzipped) with 1,000 programs, so at most ~20 MB.
CACHED_LISTS = 32
GZIP_LEVEL = 6  # as the app's GZipMiddleware (server/api/main.py)


@dataclass(frozen=True)
class _Answer:
    """One list as sent: its JSON, gzipped, and what it was built from."""

    version: tuple  # queries.data_version when it was built
    valid_until: datetime  # the first moment a program in it changes freshness band
    body: bytes
    gzipped: bytes
    etag: str


class ListCache:
    """The answers of GET /shelters, kept until the data or a freshness band changes.

    Building the list for 1,000 programs costs tens of milliseconds; checking that a kept one
    is still right costs one query of cheap aggregates (queries.data_version). An answer is
    kept per role and filters, so no role ever gets another's, and it is reused only while
    the data version is unchanged and no program in it has aged into another freshness band.

    It lives on the event loop (the route is async): the database work runs in worker
    threads, and only one version read and one build run at a time, shared by every request
    waiting for them, so a burst of requests costs one query and at most one build.
    """

    def __init__(self, size: int = CACHED_LISTS):
        self.size = size
        self._answers: OrderedDict[tuple[Role, Filters], _Answer] = OrderedDict()
        self._building = asyncio.Lock()  # one build at a time
        self._started = self._done = 0  # version reads started, and the last one finished
        self._reading: asyncio.Future | None = None  # the read under way
        self._last_version: tuple = ()

    async def answer(self, session, settings, role: Role, filters: Filters) -> _Answer:
        key = (role, filters)
        version = await self._version(session)  # before the data: see data_version
        found = self._fresh(key, version)
        if found:
            return found
        async with self._building:
            found = self._fresh(key, version)  # built meanwhile for another request
            if not found:
                found = await to_thread.run_sync(_build, session, settings, role, filters)
                found = _Answer(version, *found)
                self._answers[key] = found
                while len(self._answers) > self.size:
                    self._answers.popitem(last=False)  # the least recently used
            return found

    async def _version(self, session) -> tuple:
        """queries.data_version from a read that started after this call did, so it sees
        everything committed before the request came in. Requests that arrive while a read
        is under way wait for the next one and share it."""
        wanted = self._started + 1  # the read under way, if any, may predate this request
        while self._done < wanted:
            if self._reading is None:
                self._started += 1
                mine, self._reading = self._started, asyncio.get_running_loop().create_future()
                try:
                    version = await to_thread.run_sync(data_version, session)
                    self._done, self._last_version = mine, version
                finally:  # on an error, a waiting request starts another read
                    self._reading.set_result(None)
                    self._reading = None
            else:
                await self._reading
        return self._last_version

    def _fresh(self, key, version: tuple) -> _Answer | None:
        found = self._answers.get(key)
        if found is None or found.version != version or utcnow() > found.valid_until:
            return None
        self._answers.move_to_end(key)
        return found


def _build(session, settings, role: Role, filters: Filters) -> tuple[datetime, bytes, bytes, str]:
    """The list as sent (after _Answer.version): until when it holds, JSON, gzipped, ETag."""
    now = utcnow()  # before the data, so a band edge it crosses ends the answer early
    items = sites(session, settings, role=role, filters=filters)
    times = [s.updated_at for s in items if s.updated_at]
    edges = [
        freshness_changes_at(p.updated_at, now, settings)
        for s in items
        for p in s.programs
        if p.updated_at
    ]
    raw = SiteList(items=items, updated_at=max(times) if times else None).model_dump_json().encode()
    return (
        min(edges, default=datetime.max.replace(tzinfo=now.tzinfo)),
        raw,
        gzip.compress(raw, GZIP_LEVEL, mtime=0),
        f'"{hashlib.blake2b(raw, digest_size=16).hexdigest()}"',
    )


def _send(request: Request, answer: _Answer) -> Response:
    """The kept bytes, gzipped when the caller accepts gzip; 304 when it has them already."""
    zipped = "gzip" in request.headers.get("accept-encoding", "")
    # Each encoding is its own representation, so each has its own strong ETag (RFC 9110)
    etag = answer.etag.removesuffix('"') + '-gzip"' if zipped else answer.etag
    headers = {"ETag": etag, "Vary": "Accept-Encoding"}
    held = {
        tag.strip().removeprefix("W/")
        for tag in request.headers.get("if-none-match", "").split(",")
    }
    if etag in held or "*" in held:
        return Response(status_code=304, headers=headers)
    if zipped:
        # Content-Encoding set: the GZipMiddleware passes the response through as it is
        headers["Content-Encoding"] = "gzip"
        return Response(answer.gzipped, media_type="application/json", headers=headers)
    return Response(answer.body, media_type="application/json", headers=headers)


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
    session: SessionDep,
    settings: SettingsDep,
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
    bbox: Annotated[
        str | None,
        Query(
            description="min_lon,min_lat,max_lon,max_lat", examples=["-79.64,43.58,-79.11,43.86"]
        ),
    ] = None,
) -> Response:
    if radius_km is not None and near is None:
        raise HTTPException(422, "radius_km: needs near=lat,lon to measure from")
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
    )
    lists: ListCache = request.app.state.shelter_lists
    return _send(request, await lists.answer(session, settings, role, filters))


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
