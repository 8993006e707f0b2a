"""Availability as everyone sees it: one query feeds the API, the event stream and the map."""

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from server.api.schemas import ProgramPublic, SitePublic
from server.models import CurrentState, Device, DeviceChannel, Program, Site, utcnow
from server.settings import Settings

OFFLINE = ("offline", "lost")


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


def sites(session: Session, settings: Settings, ids: set[int] | None = None) -> list[SitePublic]:
    """Public availability of every site (or of `ids`); confidential sites are left out."""
    query = select(Site).where(col(Site.confidential).is_(False)).order_by(Site.name)
    if ids is not None:
        query = query.where(col(Site.id).in_(ids))
    found = session.exec(query).all()
    site_ids = [s.id for s in found]
    programs = session.exec(
        select(Program, CurrentState, Device.status)
        .outerjoin(CurrentState, CurrentState.program_id == Program.id)
        .outerjoin(DeviceChannel, DeviceChannel.program_id == Program.id)
        .outerjoin(Device, Device.id == DeviceChannel.device_id)
        .where(col(Program.site_id).in_(site_ids))
        .order_by(Program.id)
    ).all()
    now = utcnow()
    by_site: dict[int, list[ProgramPublic]] = {i: [] for i in site_ids}
    for program, current, status in programs:
        capacity = current.capacity if current else program.capacity
        occupied = current.occupied if current else None
        updated_at = current.updated_at if current else None
        by_site[program.site_id].append(
            ProgramPublic(
                id=program.id,
                name=program.name,
                sector=program.sector,
                capacity_type=program.capacity_type,
                capacity=capacity,
                occupied=occupied,
                available=None if occupied is None else max(capacity - occupied, 0),
                accepting=program.accepting,
                updated_at=updated_at,
                freshness=freshness(updated_at, status, now, settings),
            )
        )
    return [_site(site, by_site[site.id]) for site in found]


def _site(site: Site, programs: list[ProgramPublic]) -> SitePublic:
    known = [p for p in programs if p.occupied is not None]
    times = [p.updated_at for p in known if p.updated_at]
    order = ["fresh", "aging", "stale", "unknown"]
    return SitePublic(
        id=site.id,
        name=site.name,
        address=site.address,
        lat=site.lat,
        lon=site.lon,
        phone=site.phone,
        capacity=sum(p.capacity for p in programs),
        occupied=sum(p.occupied for p in known) if known else None,
        available=sum(p.available for p in known) if known else None,
        updated_at=max(times) if times else None,
        # a site is as trustworthy as its least fresh program
        freshness=max((p.freshness for p in programs), key=order.index, default="unknown"),
        programs=programs,
    )
