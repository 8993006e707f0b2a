"""Holds: one place of a program kept for a person on their way, until it expires.

A hold counts in the split like an occupied place (capacity = occupied + held + out of
service + available) from the moment it is placed until it ends: the person arrives (the
desk counts them in), the desk or the worker lets it go, or its time runs out. `expire`
ends the holds whose time is up; the API runs it every few seconds whoever is connected.

Placing the last free place is atomic: `place` first writes to the program's row, which
makes a second placement on the same program wait (a row lock on PostgreSQL, the database's
write lock on SQLite) until the first has committed, and only then counts what is free.
"""

import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from server.db import notify_changes
from server.models import (
    CurrentState,
    Device,
    DeviceChannel,
    Hold,
    HoldState,
    Program,
    Site,
    utcnow,
)
from server.settings import Settings

# What a worker reads out to the desk: no 0/O, 1/I/L or 5/S to mix up over a phone. Four of
# 29 symbols: 707,281 codes, so two holds at one desk share one about once in 700,000.
CODE_ALPHABET = "ABCDEFGHJKMNPQRTUVWXYZ2346789"
CODE_LENGTH = 4


class HoldRefused(ValueError):
    """Why a hold cannot be placed or changed; `code` is one of: not_found, not_accepting,
    no_count, full, too_long, ended."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def active(now: datetime):
    """The condition of a hold that holds a place at `now`."""
    return (col(Hold.state) == HoldState.active) & (col(Hold.expires_at) > now)


def held_counts(now: datetime):
    """A subquery of (program_id, held): the places each program holds at `now`."""
    return (
        select(Hold.program_id, func.count().label("held"))
        .where(active(now))
        .group_by(Hold.program_id)
        .subquery()
    )


def minutes_for(program: Program, settings: Settings, asked: int | None) -> int:
    """How long a new hold lasts: what the worker asks, else the program's, else the city's
    default; never above the city's maximum."""
    if asked is not None:
        if asked > settings.hold_max_minutes:
            raise HoldRefused(
                "too_long", f"the city allows holds of at most {settings.hold_max_minutes} minutes"
            )
        return asked
    return min(program.hold_minutes or settings.hold_default_minutes, settings.hold_max_minutes)


def place(
    session: Session,
    settings: Settings,
    program_id: int,
    key_id: int | None,
    minutes: int | None = None,
    note: str | None = None,
) -> Hold:
    """Hold one free place of the program, committed; HoldRefused says why not."""
    # The write first: see the module's docstring. capacity = capacity changes nothing.
    locked = session.execute(
        update(Program).where(col(Program.id) == program_id).values(capacity=Program.capacity)
    )
    if locked.rowcount == 0:
        session.rollback()
        raise HoldRefused("not_found", f"no program with id {program_id}")
    try:
        program = session.get(Program, program_id)
        hold_minutes = minutes_for(program, settings, minutes)
        now = utcnow()
        _check_free(session, program, now)
        hold = Hold(
            program_id=program_id,
            key_id=key_id,
            code="".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)),
            note=note,
            placed_at=now,
            expires_at=now + timedelta(minutes=hold_minutes),
        )
        session.add(hold)
        _sites_changed(session, {program.site_id}, now)
        _desks_changed(session, {program_id})
        session.commit()
    except HoldRefused:
        session.rollback()
        raise
    session.refresh(hold)
    return hold


def _check_free(session: Session, program: Program, now: datetime) -> None:
    if not program.accepting:
        raise HoldRefused("not_accepting", f"{program.name} is not taking new guests now")
    current = session.get(CurrentState, program.id)
    if current is None:
        raise HoldRefused("no_count", f"{program.name} has no count yet: phone the desk")
    held = session.exec(
        select(func.count()).select_from(Hold).where(Hold.program_id == program.id, active(now))
    ).one()
    free = current.capacity - current.occupied - held - program.out_of_service
    if free <= 0:
        raise HoldRefused(
            "full",
            f"no free place left in {program.name}: {current.occupied} occupied, "
            f"{held} held, {program.out_of_service} out of service of {current.capacity}",
        )


def end(session: Session, hold: Hold, state: HoldState) -> Hold:
    """End an active hold as `state` (cancelled, released or arrived), committed by the
    caller; HoldRefused when it has ended already (its state says how)."""
    now = utcnow()
    if hold.state != HoldState.active or hold.expires_at <= now:
        state_now = HoldState.expired if hold.state == HoldState.active else hold.state
        raise HoldRefused("ended", f"hold {hold.code} has ended already: {state_now}")
    hold.state, hold.ended_at = state, now
    session.add(hold)
    _sites_changed(session, {session.get(Program, hold.program_id).site_id}, now)
    _desks_changed(session, {hold.program_id})
    return hold


def end_at_desk(session: Session, program_id: int, hold_id: int, state: str, now) -> bool:
    """The desk ended hold `hold_id` of `program_id` (arrived or released) in a commit the
    caller stores with it; False when it is not an active hold of that program (ended
    already, say by its time: then nothing changes)."""
    ended = session.execute(
        update(Hold)
        .where(col(Hold.id) == hold_id, col(Hold.program_id) == program_id)
        .where(col(Hold.state) == HoldState.active)
        .values(state=HoldState(state), ended_at=now)
    )
    if ended.rowcount == 0:
        return False
    site_id = session.exec(select(Program.site_id).where(Program.id == program_id)).one()
    _sites_changed(session, {site_id}, now)
    _desks_changed(session, {program_id})
    return True


def for_desk(session: Session, program_ids: list[int]) -> dict[int, list[Hold]]:
    """The active holds of these programs, soonest to end first: what their dials show."""
    found: dict[int, list[Hold]] = {p: [] for p in program_ids}
    query = select(Hold).where(col(Hold.program_id).in_(program_ids), active(utcnow()))
    for hold in session.exec(query.order_by(col(Hold.expires_at))):
        found[hold.program_id].append(hold)
    return found


def expire(session: Session) -> int:
    """End every hold whose time is up, committed; how many ended."""
    now = utcnow()
    due = session.exec(
        select(Hold.id, Program.site_id)
        .join(Program, Program.id == Hold.program_id)
        .where(Hold.state == HoldState.active, col(Hold.expires_at) <= now)
    ).all()
    if not due:
        return 0
    session.execute(
        update(Hold)
        .where(col(Hold.id).in_([hold_id for hold_id, _site in due]))
        .where(col(Hold.state) == HoldState.active)  # unless the desk ended it meanwhile
        .values(state=HoldState.expired, ended_at=now)
    )
    _sites_changed(session, {site_id for _hold, site_id in due}, now)
    programs = session.exec(select(Hold.program_id).where(col(Hold.id).in_([h for h, _ in due])))
    _desks_changed(session, set(programs))
    session.commit()
    return len(due)


def _desks_changed(session: Session, program_ids: set[int]) -> None:
    """The dials counting these programs show their holds: a new config version for each,
    which the ingestor publishes (docs/protocol.md, Config)."""
    counting = select(DeviceChannel.device_id).where(col(DeviceChannel.program_id).in_(program_ids))
    session.execute(
        update(Device)
        .where(col(Device.id).in_(counting))
        .values(config_version=Device.config_version + 1)
    )


def _sites_changed(session: Session, site_ids: set[int], now: datetime) -> None:
    """Have the event stream send these sites again: their split changed."""
    session.execute(update(Site).where(col(Site.id).in_(site_ids)).values(edited_at=now))
    notify_changes(session)
