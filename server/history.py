"""Readings over time, for city staff: per program (min, max and last count per hour or
day) and city-wide by sector (what was free at the end of each hour or day).

Buckets are cut by `boundaries`, in Python: days start at midnight in the city's time zone
(SIGNAL_TIMEZONE), which SQLite cannot compute, and a day lasts 23 or 25 hours when the
clocks change. A reading belongs to the time the server received it. The range a request
may span is capped per interval (RANGE_LIMITS) so that one answer stays small.
"""

from bisect import bisect_right
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, column, func, values
from sqlmodel import Session, col, select
from sqlmodel.sql.sqltypes import UTCDateTime

from server.api.schemas import HistoryPoint, SectorHistory, SectorPoint
from server.models import Program, Reading, Sector
from server.queries import available

RANGE_LIMITS = {
    "raw": timedelta(days=31),  # every reading: a month of one busy desk is a few thousand
    "hour": timedelta(days=31),  # 744 hours
    "day": timedelta(days=731),  # two years of days
}


def boundaries(start: datetime, end: datetime, interval: str, zone: ZoneInfo) -> list[datetime]:
    """The starts (UTC) of the hours or local days from the one holding `start` on, then `end`."""
    local = start.astimezone(zone)
    if interval == "hour":
        local = local.replace(minute=0, second=0, microsecond=0)
    else:
        local = local.replace(hour=0, minute=0, second=0, microsecond=0)
    bucket = local.astimezone(UTC)
    found = []
    while bucket < end:
        found.append(bucket)
        if interval == "hour":
            bucket += timedelta(hours=1)
        else:  # count in dates, not in 24-hour steps
            tomorrow = bucket.astimezone(zone).date() + timedelta(days=1)
            bucket = datetime.combine(tomorrow, time(), tzinfo=zone).astimezone(UTC)
    return [*found, end]


def program_points(
    session: Session,
    program_ids: list[int],
    start: datetime,
    end: datetime,
    interval: str,
    zone: ZoneInfo,
) -> tuple[dict[int, list[HistoryPoint]], datetime | None]:
    """Per program, one point per bucket with readings (none is invented for a gap), or
    one per reading for interval=raw; and the time of the newest reading."""
    readings = session.exec(
        select(Reading)
        .where(col(Reading.program_id).in_(program_ids))
        .where(Reading.received_at >= start, Reading.received_at < end)
        .order_by(Reading.received_at, Reading.id)
    ).all()
    edges = boundaries(start, end, interval, zone) if interval != "raw" else []
    groups: dict[tuple[int, datetime], list[Reading]] = defaultdict(list)
    for reading in readings:
        if interval == "raw":
            bucket = reading.received_at
        else:
            bucket = edges[bisect_right(edges, reading.received_at) - 1]
        groups[reading.program_id, bucket].append(reading)
    points: dict[int, list[HistoryPoint]] = {i: [] for i in program_ids}
    for (program_id, bucket), group in groups.items():  # in time order, as read
        points[program_id].append(_point(bucket.astimezone(zone), group))
    return points, readings[-1].received_at if readings else None


def _point(start: datetime, group: list[Reading]) -> HistoryPoint:
    last = group[-1]
    usable = last.capacity - last.out_of_service
    return HistoryPoint(
        start=start,
        readings=len(group),
        occupied_min=min(r.occupied for r in group),
        occupied_max=max(r.occupied for r in group),
        occupied_last=last.occupied,
        capacity=last.capacity,
        out_of_service=last.out_of_service,
        available=available(last.capacity, last.occupied, last.out_of_service),
        occupancy_rate=round(last.occupied / usable, 4) if usable > 0 else None,
    )


def sector_points(
    session: Session, start: datetime, end: datetime, interval: str, zone: ZoneInfo
) -> tuple[list[SectorHistory], datetime | None]:
    """Each sector's totals at the end of every bucket, from each program's last reading up
    to then (one from before `start` counts too); and the time of the newest reading used.

    The database picks the last reading per program and bucket, so only those travel.
    """
    edges = boundaries(start, end, interval, zone)
    buckets = (
        values(
            column("n", Integer),
            column("start", UTCDateTime()),
            column("end", UTCDateTime()),
            name="bucket",
        )
        .data([(n, a, b) for n, (a, b) in enumerate(pairwise(edges))])
        .cte("bucket")
    )
    in_bucket = (Reading.received_at >= buckets.c.start) & (Reading.received_at < buckets.c.end)
    last = (
        select(buckets.c.n, func.max(Reading.id).label("reading_id"))
        .join_from(Reading, buckets, in_bucket)
        .group_by(buckets.c.n, Reading.program_id)
    )
    before = (
        select(func.max(Reading.id))
        .where(Reading.received_at < edges[0])
        .group_by(Reading.program_id)
    )
    earlier = session.exec(select(Reading).where(col(Reading.id).in_(before))).all()
    chosen = last.subquery()
    changes = session.exec(
        select(chosen.c.n, Reading)
        .join(Reading, col(Reading.id) == chosen.c.reading_id)
        .order_by(chosen.c.n)
    ).all()
    sectors = dict(session.exec(select(Program.id, Program.sector)).all())
    latest: dict[int, Reading] = {r.program_id: r for r in earlier}
    series: dict[Sector, list[SectorPoint]] = {s: [] for s in Sector if s in sectors.values()}
    changed = iter(changes)
    change = next(changed, None)
    for n, bucket in enumerate(edges[:-1]):
        while change is not None and change[0] == n:
            latest[change[1].program_id] = change[1]
            change = next(changed, None)
        for sector, points in series.items():
            readings = [r for r in latest.values() if sectors[r.program_id] == sector]
            points.append(_sector_point(bucket.astimezone(zone), readings))
    times = [r.received_at for r in latest.values()]
    answer = [SectorHistory(sector=s, points=p) for s, p in series.items()]
    return answer, max(times) if times else None


def _sector_point(start: datetime, readings: list[Reading]) -> SectorPoint:
    return SectorPoint(
        start=start,
        programs_reporting=len(readings),
        capacity=sum(r.capacity for r in readings),
        out_of_service=sum(r.out_of_service for r in readings),
        occupied=sum(r.occupied for r in readings),
        available=sum(available(r.capacity, r.occupied, r.out_of_service) for r in readings),
    )
