"""Turn-aways per night (docs/api.md): city-wide totals for everyone, by sector for city
staff; a night's rows per program in the CSV export (routes/exports.py)."""

from collections import Counter
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from server import turnaways
from server.api.deps import KEY_OPTIONAL, RoleDep, SessionDep, SettingsDep
from server.api.schemas import TurnAwayNight, TurnAways, TurnAwaySector
from server.models import Role, utcnow

router = APIRouter(tags=["turn-aways"])
DEFAULT_NIGHTS = 7  # a week: what the city page shows
MAX_NIGHTS = 366  # a year in one answer: a few hundred rows per night at most


@router.get("/turnaways", response_model=TurnAways, openapi_extra=KEY_OPTIONAL)
def turn_aways(
    session: SessionDep,
    settings: SettingsDep,
    role: RoleDep,
    start: Annotated[date | None, Query(description="First night. Default: a week back")] = None,
    end: Annotated[date | None, Query(description="Last night. Default: tonight")] = None,
) -> TurnAways:
    """People turned away per night, by reason; by sector too for city staff and admins
    (the public sees city-wide totals only: a sector's figure could point at one site)."""
    end = _night("end", end or turnaways.night_of(utcnow(), settings.zone))
    start = _night(
        "start", start or max(turnaways.FIRST_NIGHT, end - timedelta(DEFAULT_NIGHTS - 1))
    )
    if start > end:
        raise RequestValidationError([{"loc": ("query", "start"), "msg": "start is after end"}])
    if (end - start).days >= MAX_NIGHTS:
        message = f"at most {MAX_NIGHTS} nights at a time"
        raise RequestValidationError([{"loc": ("query", "end"), "msg": message}])
    rows = turnaways.counted(session, start, end, settings.zone)
    nights = []
    for night, found in turnaways.by_night(rows, start, end).items():
        sectors = None
        if role.at_least(Role.city):
            summed = Counter()
            for row in found:
                summed[row.sector, row.reason] += row.people
            sectors = [TurnAwaySector(sector=s, reason=r, people=n) for (s, r), n in summed.items()]
        nights.append(
            TurnAwayNight(
                night=night,
                people=sum(row.people for row in found),
                by_reason=turnaways.reasons_of(found),
                by_sector=sectors,
            )
        )
    return TurnAways(start=start, end=end, nights=nights)


def _night(name: str, night: date) -> date:
    try:
        return turnaways.check_night(night)
    except ValueError as e:
        raise RequestValidationError([{"loc": ("query", name), "msg": str(e)}]) from None
