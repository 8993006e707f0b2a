"""Turn-aways per night: how many people the desks turned away, by sector and reason.

Dials send running totals per (boot, channel, reason) (docs/protocol.md, Turn-aways); the
ingestor stores each total once. The people a row adds are its total less the next lower
total of the same (device, boot, channel, reason), found by a window function over all of
them, so totals that arrive out of order still add up to the highest one.

A night runs from noon to noon in the city's time zone (SIGNAL_TIMEZONE): overnight
programs take people in from the evening into the small hours, which a midnight boundary
would split across two dates. A night is named by the date it starts.
"""

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from firmware.dialcore.protocol import TURN_AWAY_REASONS
from server.models import Program, Sector, Site, TurnAway

NIGHT_STARTS = time(12)  # noon: see the module's docstring
CSV_COLUMNS = (
    "NIGHT",
    "SITE_ID",
    "SITE_NAME",
    "PROGRAM_ID",
    "PROGRAM_NAME",
    "SECTOR",
    "REASON",
    "PEOPLE",
)


@dataclass(frozen=True)
class Counted:
    """People turned away for one reason at one program, in one night."""

    night: date
    site_id: int
    site_name: str
    program_id: int
    program_name: str
    sector: Sector
    reason: str
    people: int


def night_of(moment: datetime, zone: ZoneInfo) -> date:
    local = moment.astimezone(zone)
    start = datetime.combine(local.date(), NIGHT_STARTS)
    return local.date() if local.replace(tzinfo=None) >= start else local.date() - timedelta(1)


# The nights there can be turn-aways for: none before the Unix epoch (no dial counted then),
# and a day short of date.max so that a night's end (noon the next day) is still a date.
FIRST_NIGHT, LAST_NIGHT = date(1970, 1, 1), date.max - timedelta(1)


def check_night(night: date) -> date:
    """The night itself; ValueError, saying the range, for one outside FIRST..LAST_NIGHT."""
    if not FIRST_NIGHT <= night <= LAST_NIGHT:
        raise ValueError(f"a night from {FIRST_NIGHT} to {LAST_NIGHT}")
    return night


def night_bounds(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """From the start of night `first` to the end of night `last`, as aware times."""
    start = datetime.combine(first, NIGHT_STARTS, zone)
    end = datetime.combine(last + timedelta(1), NIGHT_STARTS, zone)
    return start, end


def counted(session: Session, first: date, last: date, zone: ZoneInfo) -> list[Counted]:
    """Every (night, program, reason) with people turned away, nights first..last."""
    start, end = night_bounds(first, last, zone)
    key = (TurnAway.device_id, TurnAway.boot, TurnAway.channel, TurnAway.reason)
    before = func.lag(TurnAway.total, 1, 0).over(partition_by=key, order_by=TurnAway.total)
    rows = select(
        TurnAway.program_id,
        TurnAway.reason,
        TurnAway.received_at,
        (TurnAway.total - before).label("people"),
    ).subquery()
    found = session.execute(
        select(rows, Program.name, Program.sector, Site.id, Site.name)
        .join(Program, Program.id == rows.c.program_id)
        .join(Site, Site.id == Program.site_id)
        .where(rows.c.received_at >= start, rows.c.received_at < end)
        .order_by(col(Site.id), col(Program.id))
    ).all()
    people: Counter = Counter()
    names = {}
    for program_id, reason, at, added, program_name, sector, site_id, site_name in found:
        key = (night_of(at, zone), site_id, program_id, reason)
        people[key] += added
        names[key] = (site_name, program_name, sector)
    answer = []
    for (night, site_id, program_id, reason), n in sorted(people.items()):
        site_name, program_name, sector = names[night, site_id, program_id, reason]
        answer.append(
            Counted(night, site_id, site_name, program_id, program_name, sector, reason, n)
        )
    return answer


def by_night(rows: list[Counted], first: date, last: date) -> dict[date, list[Counted]]:
    """Every night first..last (none left out: a night with nobody turned away is 0)."""
    nights = {first + timedelta(n): [] for n in range((last - first).days + 1)}
    for row in rows:
        nights[row.night].append(row)
    return nights


def reasons_of(rows: list[Counted]) -> dict[str, int]:
    """People per reason, every reason listed (0 when none)."""
    found = Counter()
    for row in rows:
        found[row.reason] += row.people
    return {reason: found[reason] for reason in TURN_AWAY_REASONS}


def night_csv(session: Session, night: date, zone: ZoneInfo) -> str:
    """One night's turn-aways, a row per program and reason."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(CSV_COLUMNS)
    for row in counted(session, night, night, zone):
        writer.writerow(
            (
                row.night.isoformat(),
                row.site_id,
                row.site_name,
                row.program_id,
                row.program_name,
                row.sector.value,
                row.reason,
                row.people,
            )
        )
    return out.getvalue()
