"""The City of Toronto's daily occupancy CSV, written from our reading history.

Same 32 columns, order and formats as the city's open data set "Daily Shelter & Overnight
Service Occupancy & Capacity" (which server/imports/profiles/toronto.toml reads), so the city
can publish our live numbers through its existing pipeline. docs/exports.md maps every column.

The row of occupancy date D is the count at 04:00 on D+1, Toronto time, as the city defines it
(another city's time zone and count time come from SIGNAL_TIMEZONE and SIGNAL_COUNT_TIME):
each program's last reading of that day (after the previous 04:00 snapshot, at or before this
one). A program without a reading that day has no row, as the city lists only active programs.
"""

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func
from sqlmodel import Session, select

from server.exports.postal import province
from server.imports.profile import TORONTO as PROFILE
from server.models import CapacityType, Program, Reading, Site
from server.queries import available
from server.settings import Settings

# The city's 32 columns, in order (the 2021+ format of the open data set).
COLUMNS = (
    "_id", "OCCUPANCY_DATE", "ORGANIZATION_ID", "ORGANIZATION_NAME", "SHELTER_ID",
    "SHELTER_GROUP", "LOCATION_ID", "LOCATION_NAME", "LOCATION_ADDRESS", "LOCATION_POSTAL_CODE",
    "LOCATION_CITY", "LOCATION_PROVINCE", "PROGRAM_ID", "PROGRAM_NAME", "SECTOR",
    "PROGRAM_MODEL", "OVERNIGHT_SERVICE_TYPE", "PROGRAM_AREA", "SERVICE_USER_COUNT",
    "CAPACITY_TYPE", "CAPACITY_ACTUAL_BED", "CAPACITY_FUNDING_BED", "OCCUPIED_BEDS",
    "UNOCCUPIED_BEDS", "UNAVAILABLE_BEDS", "CAPACITY_ACTUAL_ROOM", "CAPACITY_FUNDING_ROOM",
    "OCCUPIED_ROOMS", "UNOCCUPIED_ROOMS", "UNAVAILABLE_ROOMS", "OCCUPANCY_RATE_BEDS",
    "OCCUPANCY_RATE_ROOMS",
)  # fmt: skip
CITY_SOURCE = PROFILE.source  # our source ids for the city's places are toronto:<city id>
# The city's words for our sectors and capacity types: its profile's value tables, inverted.
SECTOR_NAMES = {ours: city for city, ours in PROFILE.values["sector"].items()}
CAPACITY_TYPES = {kind: city for city, kind in PROFILE.values["unit"].items()}
# The city has one set of count columns per capacity type, named in the singular or plural.
SUFFIXES = {CapacityType.beds: ("BED", "BEDS"), CapacityType.rooms: ("ROOM", "ROOMS")}
RATE_STEP = Decimal("0.01")  # the city's rates have at most two decimals


@dataclass(frozen=True)
class Clock:
    """When a city takes its daily count: at `at` the morning after the date, in `zone`.
    Toronto's by default; SIGNAL_TIMEZONE and SIGNAL_COUNT_TIME give another city's."""

    zone: ZoneInfo = PROFILE.zone
    at: time = PROFILE.count_time  # the city counts at 4 AM the morning after the date

    @classmethod
    def of(cls, settings: Settings) -> "Clock":
        return cls(settings.zone, settings.count_at)

    @property
    def place(self) -> str:
        return self.zone.key.rsplit("/", 1)[-1].replace("_", " ")  # America/Toronto -> Toronto


TORONTO = Clock()


def snapshot_time(day: date, clock: Clock = TORONTO) -> datetime:
    """When the count of occupancy date `day` is taken: 04:00 the next morning in Toronto."""
    return datetime.combine(day + timedelta(days=1), clock.at, clock.zone).astimezone(UTC)


def latest_date(now: datetime, clock: Clock = TORONTO) -> date:
    """The newest occupancy date whose snapshot has been taken by `now`."""
    yesterday = now.astimezone(clock.zone).date() - timedelta(days=1)
    return yesterday if snapshot_time(yesterday, clock) <= now else yesterday - timedelta(days=1)


def check_counted(day: date, now: datetime, clock: Clock = TORONTO) -> None:
    """Raise ValueError when the count of occupancy date `day` is still to come at `now`."""
    taken = snapshot_time(day, clock)
    if taken > now:
        when = taken.astimezone(clock.zone).strftime("%Y-%m-%d %H:%M")
        raise ValueError(
            f"the count for {day} is taken at {when} {clock.place} time: still to come"
        )


def rate(occupied: int, capacity: int) -> str:
    """Percent occupied as the city writes it: 100, 95.5, 98.33 (half up); blank without beds."""
    if capacity == 0:
        return ""
    percent = (Decimal(100 * occupied) / capacity).quantize(RATE_STEP, ROUND_HALF_UP)
    return f"{percent.normalize():f}"


def city_id(source_id: str | None) -> str:
    """The city's own id (toronto:1320 -> 1320); blank for a place the city has not numbered."""
    source, _, number = (source_id or "").partition(":")
    return number if source == CITY_SOURCE else ""


def rows(session: Session, day: date, clock: Clock = TORONTO) -> list[dict[str, str | int]]:
    """The city's rows for occupancy date `day`, numbered from 1 in the city's _id column."""
    start, end = snapshot_time(day - timedelta(days=1), clock), snapshot_time(day, clock)
    newest = (
        select(Reading.program_id, func.max(Reading.received_at).label("at"))
        .where(Reading.received_at > start, Reading.received_at <= end)
        .group_by(Reading.program_id)
        .subquery()
    )
    found = session.exec(
        select(Reading, Program, Site)
        .join(
            newest,
            and_(Reading.program_id == newest.c.program_id, Reading.received_at == newest.c.at),
        )
        .join(Program, Program.id == Reading.program_id)
        .join(Site, Site.id == Program.site_id)
        .order_by(Reading.id)
    ).all()
    # Two readings of one program at the very same instant: the later stored one wins.
    last = {program.id: (reading, program, site) for reading, program, site in found}
    ordered = sorted(
        last.values(), key=lambda r: (r[2].organization or "", r[2].name, r[1].name, r[1].id)
    )
    return [_row(number, day, *r) for number, r in enumerate(ordered, start=1)]


def _row(number: int, day: date, reading: Reading, program: Program, site: Site) -> dict:
    one, many = SUFFIXES[program.capacity_type]
    actual = reading.capacity - reading.out_of_service
    beds = program.capacity_type == CapacityType.beds
    row: dict[str, str | int] = dict.fromkeys(COLUMNS, "")
    row |= {
        "_id": number,
        "OCCUPANCY_DATE": day.isoformat(),
        "ORGANIZATION_NAME": site.organization or "",
        "LOCATION_ID": city_id(site.source_id),
        "PROGRAM_ID": city_id(program.source_id),
        "PROGRAM_NAME": program.name,
        "SECTOR": SECTOR_NAMES[program.sector],
        # One guest per bed (true of every bed-based row the city publishes); a room holds a
        # household of a size we do not count.
        "SERVICE_USER_COUNT": reading.occupied if beds else "",
        "CAPACITY_TYPE": CAPACITY_TYPES[program.capacity_type],
        # Our capacity counts the beds held or out of service, as the city's funding capacity
        # does; its actual capacity is what is left in service.
        f"CAPACITY_FUNDING_{one}": reading.capacity,
        f"CAPACITY_ACTUAL_{one}": actual,
        f"UNAVAILABLE_{many}": reading.out_of_service,
        f"OCCUPIED_{many}": reading.occupied,
        f"UNOCCUPIED_{many}": available(reading.capacity, reading.occupied, reading.out_of_service),
        f"OCCUPANCY_RATE_{many}": rate(reading.occupied, actual),
    }
    if not site.confidential:  # the city leaves a confidential site's location blank too
        row |= {
            "LOCATION_NAME": site.name,
            "LOCATION_ADDRESS": site.address or "",
            "LOCATION_POSTAL_CODE": site.postal_code or "",
            "LOCATION_CITY": site.city or "",
            "LOCATION_PROVINCE": province(site.postal_code) or "",
        }
    return row


def occupancy_csv(
    session: Session, day: date, last: date | None = None, clock: Clock = TORONTO
) -> str:
    """The whole file for occupancy date `day` (or every date from `day` to `last`, in one
    file as the city publishes a year): header and rows, as the city writes them, _id
    numbered through the file."""
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")  # the city's file uses LF
    writer.writeheader()
    numbered = 0
    for offset in range(((last or day) - day).days + 1):
        found = rows(session, day + timedelta(days=offset), clock)
        for row in found:
            row["_id"] = int(row["_id"]) + numbered
        numbered += len(found)
        writer.writerows(found)
    return out.getvalue()
