"""Availability as everyone sees it: one query feeds the API, the event stream, the map and
the exports, so a number never differs between them.

`sites` answers for a role: the public never sees a confidential site (only `summary`
counts it); outreach sees its availability and intake line but not where it is; city staff
and admins see everything.
"""

import logging
import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import func
from sqlmodel import Session, col, select

from server import alerts
from server.holds import held_counts
from server.models import (
    CurrentState,
    Device,
    DeviceChannel,
    Gender,
    Program,
    Reading,
    Role,
    Sector,
    Site,
    utcnow,
)
from server.settings import Settings
from server.shapes import FreshnessCounts, ProgramPublic, SectorSummary, SitePublic, Summary

log = logging.getLogger(__name__)
OFFLINE = ("offline", "lost")
FRESHNESS = ("fresh", "aging", "stale", "unknown")  # from most to least trustworthy
LOCATION = ("address", "city", "postal_code", "lat", "lon")  # what a hidden site never shows
EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG), good to 0.5 % for haversine


@dataclass(frozen=True)
class Filters:
    """What a caller asks for; None or empty means "any".

    Program filters (sectors, has_space, accepting) pick sites with at least one program
    that meets all of them. `near` is (lat, lon); `bbox` is (min_lon, min_lat, max_lon,
    max_lat). Sites whose location the caller may not see never match near or bbox.
    """

    sectors: frozenset[Sector] = frozenset()
    has_space: bool | None = None
    accepting: bool | None = None
    pets_allowed: bool | None = None
    wheelchair_accessible: bool | None = None
    couples_allowed: bool | None = None
    gender: Gender | None = None  # sites serving this gender, or any gender
    age: int | None = None  # sites whose age limits include this age
    q: str | None = None  # part of the name, any case
    near: tuple[float, float] | None = None
    radius_km: float | None = None
    bbox: tuple[float, float, float, float] | None = None
    order: str | None = None  # name, distance or free; None: distance when `near`, else name
    limit: int | None = None  # the first this many of the order (the list still counts all)


# "free" ranks as the map's list does (map/static/sites.js TRUST_RANK): counts to act on
# with a bed free, then full ones, then stale ones, then none or an offline dial's.
_FREE_RANK = {"space": 0, "full": 1, "stale": 2, "unknown": 3}


def available(capacity: int, occupied: int, out_of_service: int, held: int = 0) -> int:
    """Free beds or rooms: never below 0, even when a count runs over the usable capacity."""
    return max(capacity - occupied - held - out_of_service, 0)


def freshness(
    updated_at: datetime | None, device_status: str | None, now: datetime, settings: Settings
) -> str:
    """fresh, aging or stale by the age of the reading; unknown with none or the device off."""
    if updated_at is None or device_status in OFFLINE:
        return "unknown"
    age = now - updated_at
    if age <= timedelta(minutes=settings.fresh_minutes):
        return "fresh"
    if age <= timedelta(minutes=settings.stale_minutes):
        return "aging"
    return "stale"


def freshness_changes_at(updated_at: datetime, now: datetime, settings: Settings) -> datetime:
    """The last moment a reading keeps the freshness band it has at `now` (fresh until
    fresh_minutes old, aging until stale_minutes); datetime.max once it is stale for good."""
    for minutes in (settings.fresh_minutes, settings.stale_minutes):
        edge = updated_at + timedelta(minutes=minutes)
        if edge >= now:
            return edge
    return datetime.max.replace(tzinfo=now.tzinfo)


# One row of cheap aggregates over every table `sites` reads. Any committed change to what
# it returns changes at least one of them: a new or replaced current state (count, sum and
# newest of reading ids and times), a device going on- or offline (status_at, and the count
# of offline devices for edits that skip status_at), a site or program added, removed or
# edited (counts, newest ids, edited_at, which every admin edit of a site, its programs or
# its dials sets: server/api/live.py), a dial paired or unpaired (channel count). And, so that
# a writer that forgets edited_at can still never leak a place, the count and id sum of the
# confidential sites. Counts and maxima come from indexes; the sums scan tables of one row
# per site, program or device.
_VERSION = select(
    *(
        select(aggregate).scalar_subquery()
        for aggregate in (
            func.count(Site.id),
            func.max(Site.id),
            func.max(Site.edited_at),
            func.count(Site.id).filter(col(Site.confidential)),
            func.sum(Site.id).filter(col(Site.confidential)),
            func.count(Program.id),
            func.max(Program.id),
            func.count(CurrentState.program_id),
            func.sum(CurrentState.reading_id),
            func.max(CurrentState.reading_id),
            func.max(CurrentState.updated_at),
            func.max(Device.status_at),
            func.count(Device.id).filter(col(Device.status).in_(OFFLINE)),
            func.count(DeviceChannel.program_id),
        )
    )
)


def data_version(session: Session) -> tuple:
    """A fingerprint of the data behind `sites`: equal fingerprints, equal answers (for the
    same role, filters and freshness band). Read it before the data it stands for, so that a
    change committed in between makes the next fingerprint differ rather than go unseen."""
    return tuple(session.exec(_VERSION).one())


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle (haversine) distance between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


# The columns the public shapes show, read as plain rows: building an ORM object for every
# site, program and current state cost most of the time of a list (docs/benchmarks.md).
_SITE_COLUMNS = [c for c in Site.__table__.c if c.name in SitePublic.model_fields]
_PROGRAM_COLUMNS = [c for c in Program.__table__.c if c.name in ProgramPublic.model_fields]


def sites(
    session: Session,
    settings: Settings,
    ids: set[int] | None = None,
    role: Role = Role.public,
    filters: Filters = Filters(),
) -> list[SitePublic]:
    """Availability of every site (or of `ids`) that `role` may see and `filters` match,
    by name, or by distance when the filters ask for `near`."""
    query = select(*_SITE_COLUMNS)
    if not role.at_least(Role.outreach):
        query = query.where(col(Site.confidential).is_(False))
    if ids is not None:
        query = query.where(col(Site.id).in_(ids))
    query = _site_filters(query, filters)
    found = session.execute(query).mappings().all()
    programs = _programs(session, settings, [s["id"] for s in found])
    answer = []
    for site in found:
        mine = programs[site["id"]]
        if not role.at_least(Role.outreach):  # the public never sees a closed surge program
            shown = [p for p in mine if p.is_open]
            if mine and not shown:
                continue  # a warming centre with no alert on: not on the map at all
            mine = shown
        try:
            public = _site(site, mine, role)
        except ValidationError as e:  # a stored value the public shape refuses: one site
            log.error("site %s left out of the answer: %s", site["id"], _first(e))  # not all
            continue
        if filters.near is not None and public.lat is not None and public.lon is not None:
            public.distance_km = round(distance_km(filters.near, (public.lat, public.lon)), 3)
        if _matches(public, filters):
            answer.append(public)
    # by name in any case (databases differ on case), then as asked (stable: name breaks ties)
    answer.sort(key=lambda s: (s.name.casefold(), s.id))
    order = filters.order or ("distance" if filters.near is not None else "name")
    if order == "distance":
        answer.sort(key=lambda s: s.distance_km)  # (`near` leaves out unlocated sites)
    elif order == "free":
        answer.sort(key=lambda s: (_FREE_RANK[_standing(s)], -(s.available or 0)))
    return answer


def _standing(site: SitePublic) -> str:
    """space, full, stale or unknown: what the map's list ranks a site by (its statusOf)."""
    if site.freshness == "stale":
        return "stale"
    if site.freshness == "unknown" or site.available is None:
        return "unknown"
    return "space" if site.available > 0 else "full"


def changed_since(session: Session, since: datetime) -> set[int]:
    """Ids of the sites whose counts, dials or details changed after `since` (the server's
    clock): a new current reading received, a dial's status, or a site edit (which admins'
    edits, holds, pairings and alerts opening or closing programs all mark)."""
    counted = (
        select(Program.site_id)
        .join(CurrentState, CurrentState.program_id == Program.id)
        .join(Reading, Reading.id == CurrentState.reading_id)
        .where(Reading.received_at > since)
    )
    dials = (
        select(Program.site_id)
        .join(DeviceChannel, DeviceChannel.program_id == Program.id)
        .join(Device, Device.id == DeviceChannel.device_id)
        .where(Device.status_at > since)
    )
    edited = select(Site.id).where(Site.edited_at > since)
    return {site_id for query in (counted, dials, edited) for site_id in session.exec(query)}


def summary(session: Session, settings: Settings) -> Summary:
    """City-wide numbers by sector, confidential sites included (counts reveal no place);
    closed surge programs left out (their beds are not there tonight)."""
    programs = [
        p for site in sites(session, settings, role=Role.admin) for p in site.programs if p.is_open
    ]
    by_sector = [_sum(s, [p for p in programs if p.sector == s]) for s in Sector]
    total = _sum(None, programs)
    return Summary(
        sectors=[s for s in by_sector if s.programs], total=total, updated_at=total.updated_at
    )


def _site_filters(query, filters: Filters):
    """The filters on a site's own columns, done by the database."""
    for name in ("pets_allowed", "wheelchair_accessible", "couples_allowed"):
        wanted = getattr(filters, name)
        if wanted is not None:
            query = query.where(getattr(Site, name) == wanted)
    if filters.gender is not None:
        query = query.where(col(Site.gender_served).in_([filters.gender, Gender.any]))
    if filters.age is not None:
        query = query.where(
            (col(Site.min_age).is_(None) | (col(Site.min_age) <= filters.age))
            & (col(Site.max_age).is_(None) | (col(Site.max_age) >= filters.age))
        )
    return query


def _programs(
    session: Session, settings: Settings, site_ids: list[int]
) -> dict[int, list[ProgramPublic]]:
    now = utcnow()
    held = held_counts(now)
    rows = session.execute(
        select(
            *_PROGRAM_COLUMNS,
            CurrentState.capacity.label("counted_capacity"),
            CurrentState.occupied,
            CurrentState.updated_at,
            Device.status.label("device_status"),
            func.coalesce(held.c.held, 0).label("held"),
        )
        .outerjoin(CurrentState, CurrentState.program_id == Program.id)
        .outerjoin(held, held.c.program_id == Program.id)
        .outerjoin(DeviceChannel, DeviceChannel.program_id == Program.id)
        .outerjoin(Device, Device.id == DeviceChannel.device_id)
        .where(col(Program.site_id).in_(site_ids))
        .order_by(Program.id)
    ).mappings()
    rows = list(rows)
    alert_programs = [r["id"] for r in rows if r["opens_with_alert"]]
    opened = alerts.openings(session, alert_programs, now, settings.zone) if alert_programs else {}
    by_site: dict[int, list[ProgramPublic]] = {i: [] for i in site_ids}
    for row in rows:
        opening = opened.get(row["id"], alerts.ALWAYS)
        occupied, updated_at = row["occupied"], row["updated_at"]  # None: no reading yet
        # the capacity the dial counted against; the program's own until a first reading
        capacity = row["capacity"] if updated_at is None else row["counted_capacity"]
        computed = {
            "capacity": capacity,
            "occupied": occupied,
            "held": row["held"],
            "available": None
            if occupied is None
            else available(capacity, occupied, row["out_of_service"], row["held"]),
            "updated_at": updated_at,
            "freshness": freshness(updated_at, row["device_status"], now, settings),
            "is_open": opening.is_open,
            "open_for": opening.alert,
            "open_until": opening.until,
        }
        stored = {c.name: row[c.name] for c in _PROGRAM_COLUMNS}
        try:
            by_site[row["site_id"]].append(ProgramPublic(**(stored | computed)))
        except ValidationError as e:  # a stored value the public shape refuses: left out
            log.error("program %s left out of the answer: %s", row["id"], _first(e))
    return by_site


def _first(error: ValidationError) -> str:
    """The first rule broken, without the value (it may be long)."""
    first = error.errors()[0]
    return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"


def _site(site, programs: list[ProgramPublic], role: Role) -> SitePublic:
    """`site`: a row of _SITE_COLUMNS. A closed surge program is listed (for key holders)
    but counted in none of the site's figures."""
    listed, programs = programs, [p for p in programs if p.is_open]
    known = [p for p in programs if p.occupied is not None]
    times = [p.updated_at for p in known if p.updated_at]
    fields = dict(site)
    if site["confidential"] and not role.at_least(Role.city):
        fields |= dict.fromkeys(LOCATION)
    return SitePublic(
        **fields,
        capacity=sum(p.capacity for p in programs),
        occupied=sum(p.occupied for p in known) if known else None,
        held=sum(p.held for p in programs),
        available=sum(p.available for p in known) if known else None,
        updated_at=max(times) if times else None,
        # a site is as trustworthy as its least fresh program
        freshness=max((p.freshness for p in programs), key=FRESHNESS.index, default="unknown"),
        programs=listed,
    )


def _matches(site: SitePublic, filters: Filters) -> bool:
    """The filters that need computed availability or the location the caller may see."""
    if filters.q and filters.q.casefold() not in site.name.casefold():
        return False
    located = site.lat is not None and site.lon is not None
    if (filters.near is not None or filters.bbox is not None) and not located:
        return False
    if filters.radius_km is not None and site.distance_km > filters.radius_km:
        return False
    if filters.bbox is not None:
        min_lon, min_lat, max_lon, max_lat = filters.bbox
        if not (min_lon <= site.lon <= max_lon and min_lat <= site.lat <= max_lat):
            return False
    if filters.sectors or filters.has_space is not None or filters.accepting is not None:
        return any(_program_matches(p, filters) for p in site.programs)
    return True


def _program_matches(program: ProgramPublic, filters: Filters) -> bool:
    has_space = program.available is not None and program.available > 0
    return (
        (not filters.sectors or program.sector in filters.sectors)
        and (filters.has_space is None or has_space == filters.has_space)
        and (filters.accepting is None or program.accepting == filters.accepting)
    )


CURRENT = ("fresh", "aging")  # counts worth acting on: the map's totals add up only these


def _sum(sector: Sector | None, programs: list[ProgramPublic]) -> SectorSummary:
    reporting = [p for p in programs if p.occupied is not None]
    current = [p for p in reporting if p.freshness in CURRENT]
    counts = FreshnessCounts(**Counter(p.freshness for p in programs))
    times = [p.updated_at for p in reporting if p.updated_at]
    return SectorSummary(
        sector=sector,
        programs=len(programs),
        programs_reporting=len(reporting),
        programs_current=len(current),
        capacity=sum(p.capacity for p in reporting),
        out_of_service=sum(p.out_of_service for p in reporting),
        occupied=sum(p.occupied for p in reporting),
        held=sum(p.held for p in reporting),
        available=sum(p.available for p in reporting),
        available_current=sum(p.available for p in current),
        programs_by_freshness=counts,
        updated_at=max(times) if times else None,
    )
