"""Readings over time, for city staff: per program (min, max and last count per hour or
day) and city-wide by sector (what was free at the end of each hour or day).

Buckets are cut by `boundaries`, in Python: days start at midnight in the city's time zone
(SIGNAL_TIMEZONE), which SQLite cannot compute, and a day lasts 23 or 25 hours when the
clocks change. A reading belongs to the time the server received it. The range a request
may span is capped per interval (RANGE_LIMITS) so that one answer stays small.

The "last" count of a bucket is the one the map showed at its end: the newest by the current
state's rule (server/ingest/handler.py's Stamp: a dial's highest (boot, seq), or else the later
arrival), carried over from earlier buckets, so a late resend never becomes the last count.
"""

from bisect import bisect_right
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, column, func, values
from sqlmodel import Session, col, select
from sqlmodel.sql.sqltypes import UTCDateTime

from server.ingest.handler import Stamp
from server.models import Program, Reading, Sector
from server.queries import available
from server.shapes import HistoryPoint, SectorHistory, SectorPoint

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # no reading is older: the bucket "before the range"

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
    newest = {} if interval == "raw" else newest_before(session, start, program_ids)
    points: dict[int, list[HistoryPoint]] = {i: [] for i in program_ids}
    for (program_id, bucket), group in groups.items():  # in time order, as read
        for reading in group:
            _keep_newest(newest, _stamp(reading), reading)
        last = group[0] if interval == "raw" else newest[program_id][1]
        points[program_id].append(_point(bucket.astimezone(zone), group, last))
    return points, readings[-1].received_at if readings else None


def _stamp(reading: Reading, at: datetime | None = None) -> Stamp:
    return Stamp(reading.device_id, reading.boot, reading.seq, at or reading.received_at)


def _keep_newest(newest: dict[int, tuple[Stamp, Reading]], stamp: Stamp, reading: Reading) -> None:
    """Make `reading` its program's newest unless the one held is newer (the map's rule)."""
    held = newest.get(reading.program_id)
    if held is None or held[0].superseded_by(stamp):
        newest[reading.program_id] = stamp, reading


def _candidates(
    session: Session, edges: list[datetime], program_ids: list[int] | None = None
) -> list[tuple[int, Stamp, Reading]]:
    """Per bucket n (between consecutive edges), program and device: the reading with the
    highest (boot, seq), stamped with that device's last arrival in the bucket; in bucket,
    then arrival order. Only these travel: folding them with _keep_newest gives the newest
    reading per program at each bucket's end, as folding every reading would."""
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
    # imports have no device: one group of their own, as in Stamp
    partition = (buckets.c.n, Reading.program_id, func.coalesce(Reading.device_id, ""))
    newest_first = (col(Reading.boot).desc(), col(Reading.seq).desc(), col(Reading.id).desc())
    ranked = select(
        buckets.c.n,
        col(Reading.id).label("reading_id"),
        func.row_number().over(partition_by=partition, order_by=newest_first).label("rank"),
        func.max(Reading.received_at).over(partition_by=partition).label("last_at"),
    ).join_from(Reading, buckets, in_bucket)
    if program_ids is not None:
        ranked = ranked.where(col(Reading.program_id).in_(program_ids))
    chosen = ranked.subquery()
    rows = session.exec(
        select(chosen.c.n, chosen.c.last_at, Reading)
        .join(Reading, col(Reading.id) == chosen.c.reading_id)
        .where(chosen.c.rank == 1)
        .order_by(chosen.c.n, chosen.c.last_at, chosen.c.reading_id)
    ).all()
    return [(n, _stamp(reading, last_at), reading) for n, last_at, reading in rows]


def newest_before(
    session: Session, start: datetime, program_ids: list[int] | None = None
) -> dict[int, tuple[Stamp, Reading]]:
    """Per program, the newest reading received before `start`, with its stamp."""
    newest: dict[int, tuple[Stamp, Reading]] = {}
    for _n, stamp, reading in _candidates(session, [EPOCH, start], program_ids):
        _keep_newest(newest, stamp, reading)
    return newest


def _point(start: datetime, group: list[Reading], last: Reading) -> HistoryPoint:
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
    """Each sector's totals at the end of every bucket, from each program's newest reading up
    to then (one from before `start` counts too); and the time of the newest reading used."""
    edges = boundaries(start, end, interval, zone)
    newest = newest_before(session, edges[0])
    changes = iter(_candidates(session, edges))
    sectors = dict(session.exec(select(Program.id, Program.sector)).all())
    series: dict[Sector, list[SectorPoint]] = {s: [] for s in Sector if s in sectors.values()}
    change = next(changes, None)
    for n, bucket in enumerate(edges[:-1]):
        while change is not None and change[0] == n:
            _keep_newest(newest, change[1], change[2])
            change = next(changes, None)
        latest = {program_id: reading for program_id, (_held, reading) in newest.items()}
        for sector, points in series.items():
            readings = [r for r in latest.values() if sectors[r.program_id] == sector]
            points.append(_sector_point(bucket.astimezone(zone), readings))
    times = [r.received_at for _held, r in newest.values()]
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
