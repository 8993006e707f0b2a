"""Surge and warming programs: open while an alert of their kind is on, during their window.

A program with `opens_with_alert` (say "cold") is open at a moment when that moment is in
one of its windows (window_start to window_end each day in the city's time zone; a window
that ends at or before it starts runs into the next day, as 19:00 to 12:00; no window: all
day) and that window overlaps an alert of its kind. So an alert opened at 15:00 opens a
19:00-to-noon centre at 19:00 ("at its next window"); opened at 21:00, at once (the window
is running); an alert ended at 08:00 keeps it open until noon ("after their window").
Programs without `opens_with_alert` are always open.

Nothing is written when a window opens or closes: `changed_sites` (run every second by the
API, as holds are ended) compares what is open with its last look and marks the sites whose
programs opened or closed, so lists, the event stream and the dials' configs follow: a new
config version for every dial counting one, whose config then says which are closed.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, col, select

from server.models import Alert, Device, DeviceChannel, Program, Site, utcnow

log = logging.getLogger(__name__)
ALL_DAY = (time(0), time(0))  # no window: from midnight to the next midnight
# Windows that are no clock time, already logged: the API looks every second (stored before
# the API checked them, a "99:99" failed every look, hold expiry included, as one sweep).
_BAD_WINDOWS: set[tuple[int | None, str, str]] = set()


@dataclass(frozen=True)
class Opening:
    """Whether a program is open now, and if so for which alert until when."""

    is_open: bool
    alert: str | None = None  # the alert's name, e.g. "Extreme Cold Weather Alert"
    until: datetime | None = None  # when this window ends


ALWAYS = Opening(True)


def _windows(program: Program, around: datetime, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The program's windows that start from the day before `around` to the day after."""
    start, end = ALL_DAY
    if program.window_start and program.window_end:
        try:
            start, end = map(time.fromisoformat, (program.window_start, program.window_end))
        except ValueError:  # all day, as with no window: open with every alert of its kind
            bad = (program.id, program.window_start, program.window_end)
            if bad not in _BAD_WINDOWS:
                _BAD_WINDOWS.add(bad)
                log.error(
                    "program %s: window %s to %s is no clock time (HH:MM); taken as all day "
                    "until an admin sets it (PATCH /api/v1/programs/%s)",
                    *bad,
                    program.id,
                )
    day = around.astimezone(zone).date()
    found = []
    for offset in (-1, 0, 1):
        on: date = day + timedelta(offset)
        opens = datetime.combine(on, start, zone)
        closes = datetime.combine(on + timedelta(1) if end <= start else on, end, zone)
        found.append((opens, closes))
    return found


def opening(program: Program, alerts: list[Alert], now: datetime, zone: ZoneInfo) -> Opening:
    """Whether `program` is open at `now` given the alerts of every kind."""
    if not program.opens_with_alert:
        return ALWAYS
    mine = [a for a in alerts if a.kind == program.opens_with_alert]
    for opens, closes in _windows(program, now, zone):
        if not opens <= now < closes:
            continue
        for alert in mine:  # the window overlaps the alert
            if alert.started_at < closes and (alert.ended_at is None or alert.ended_at > opens):
                return Opening(True, alert.name, closes)
    return Opening(False)


def recent(session: Session, now: datetime) -> list[Alert]:
    """Alerts on now, or ended within the last two days (a window they opened may still
    run: no window is longer than a day)."""
    since = now - timedelta(days=2)
    query = select(Alert).where(col(Alert.ended_at).is_(None) | (col(Alert.ended_at) > since))
    return list(session.exec(query))


def openings(session: Session, program_ids, now: datetime, zone: ZoneInfo) -> dict[int, Opening]:
    """Opening of each of these programs that opens with an alert (the rest are open)."""
    query = select(Program).where(
        col(Program.id).in_(program_ids), col(Program.opens_with_alert).is_not(None)
    )
    programs = list(session.exec(query))
    if not programs:
        return {}
    alerts = recent(session, now)
    return {p.id: opening(p, alerts, now, zone) for p in programs}


def closed(session: Session, program_ids, now: datetime, zone: ZoneInfo) -> set[int]:
    """Those of these programs that are closed at `now`: their dials refuse counts there
    (docs/protocol.md, Closed programs)."""
    return {i for i, o in openings(session, program_ids, now, zone).items() if not o.is_open}


class Watcher:
    """Marks the sites whose alert programs opened or closed since its last look."""

    def __init__(self) -> None:
        self._open: dict[int, bool] | None = None  # program id -> open at the last look

    def look(self, session: Session, zone: ZoneInfo) -> int:
        """Commit the changed sites' edit time (and their dials' configs); how many."""
        now = utcnow()
        query = select(Program.id).where(col(Program.opens_with_alert).is_not(None))
        states = {
            i: o.is_open for i, o in openings(session, list(session.exec(query)), now, zone).items()
        }
        before, self._open = self._open, states
        if before is None:
            return 0
        changed = {i for i in states if before.get(i) != states[i]}
        if not changed:
            return 0
        programs_changed(session, changed, now)
        session.commit()
        return len(changed)


def programs_changed(session: Session, program_ids: set[int], now: datetime) -> None:
    """Their sites show them again (lists, events) and their dials get a new config."""
    sites = select(Program.site_id).where(col(Program.id).in_(program_ids))
    session.execute(update(Site).where(col(Site.id).in_(sites)).values(edited_at=now))
    desks = select(DeviceChannel.device_id).where(col(DeviceChannel.program_id).in_(program_ids))
    session.execute(
        update(Device)
        .where(col(Device.id).in_(desks))
        .values(config_version=Device.config_version + 1)
    )
