"""History for city staff: what each program held over time, and the city by sector."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query

from server.api.deps import CityDep, SessionDep, SettingsDep
from server.api.schemas import MAX_ID, Error
from server.history import RANGE_LIMITS, program_points, sector_points
from server.models import Program, Role, Site, utcnow
from server.queries import sites
from server.shapes import History, Interval, ProgramHistory, SectorsHistory

router = APIRouter(prefix="/history", tags=["history"])
DEFAULT_SPAN = timedelta(days=1)  # without a start: the last day
# No reading is older than this software or far in the future; the bounds also keep date
# arithmetic (a day earlier, another time zone) inside Python's calendar
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
FORBIDDEN = {403: {"model": Error, "description": "The key's role is below city"}}
TIME = "ISO 8601; without an offset, in the city's time zone (SIGNAL_TIMEZONE)"

Start = Annotated[datetime | None, Query(description=f"{TIME}. Default: a day before end")]
End = Annotated[datetime | None, Query(description=f"{TIME}. Default: now")]


def _range(start, end, interval: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Aware start and end, checked: in order, and not longer than the interval allows."""
    end = _aware("end", end, zone) if end else utcnow()
    start = _aware("start", start, zone) if start else end - DEFAULT_SPAN
    if start >= end:
        raise HTTPException(422, "start: must be before end")
    limit = RANGE_LIMITS[interval]
    if end - start > limit:
        raise HTTPException(
            422, f"end: interval={interval} spans at most {limit.days} days; ask for less"
        )
    return start, end


def _aware(name: str, t: datetime, zone: ZoneInfo) -> datetime:
    """`t` with its offset (the city's when it has none), between EARLIEST and LATEST."""
    aware = t if t.utcoffset() is not None else t.replace(tzinfo=zone)
    try:
        inside = EARLIEST <= aware.astimezone(UTC) <= LATEST
    except OverflowError:  # year 1 or 9999 moved across a time zone leaves the calendar
        inside = False
    if not inside:
        raise HTTPException(422, f"{name}: must lie between {EARLIEST.year} and {LATEST.year}")
    return aware


@router.get(
    "",
    response_model=History,
    responses={**FORBIDDEN, 404: {"model": Error, "description": "No such program or site"}},
)
def history(
    session: SessionDep,
    settings: SettingsDep,
    _role: CityDep,
    program_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="One program; or give site_id")
    ] = None,
    site_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Every program of a site")
    ] = None,
    start: Start = None,
    end: End = None,
    interval: Annotated[
        Interval, Query(description="raw: every reading; hour or day: min, max, last")
    ] = "hour",
) -> History:
    if (program_id is None) == (site_id is None):
        raise HTTPException(422, "program_id: give program_id or site_id (one of them)")
    if program_id is not None:
        program = session.get(Program, program_id)
        if program is None:
            raise HTTPException(404, f"no program with id {program_id}")
        site_id = program.site_id
    elif session.get(Site, site_id) is None:
        raise HTTPException(404, f"no shelter with id {site_id}")
    start, end = _range(start, end, interval, settings.zone)
    [site] = sites(session, settings, {site_id}, Role.admin)
    programs = [p for p in site.programs if program_id in (None, p.id)]
    points, updated_at = program_points(
        session, [p.id for p in programs], start, end, interval, settings.zone
    )
    return History(
        interval=interval,
        start=start,
        end=end,
        series=[ProgramHistory(program=p, points=points[p.id]) for p in programs],
        updated_at=updated_at,
    )


@router.get("/sectors", response_model=SectorsHistory, responses=FORBIDDEN)
def sectors_history(
    session: SessionDep,
    settings: SettingsDep,
    _role: CityDep,
    start: Start = None,
    end: End = None,
    interval: Literal["hour", "day"] = "hour",
) -> SectorsHistory:
    """City-wide totals by sector at the end of each hour or day, for charts."""
    start, end = _range(start, end, interval, settings.zone)
    sectors, updated_at = sector_points(session, start, end, interval, settings.zone)
    return SectorsHistory(
        interval=interval, start=start, end=end, sectors=sectors, updated_at=updated_at
    )
