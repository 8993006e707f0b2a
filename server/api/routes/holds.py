"""Holds (outreach and above): keep one place of a program for the person beside you.

A key sees and cancels its own holds, notes included. City staff and admins may list every
hold, but never another key's note: the public sees only counts (`held` in /shelters).
"""

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from sqlmodel import col, select

from server import holds
from server.api.deps import OutreachDep, RowId, SessionDep, SettingsDep
from server.api.schemas import Error, HoldCreate, HoldList, HoldPublic
from server.auth import BOOTSTRAP
from server.models import Hold, HoldState, Program, Role, utcnow

router = APIRouter(tags=["holds"])
LISTED = 500  # newest holds a list shows: a night of a busy city's outreach, several times
FORBIDDEN = {403: {"model": Error, "description": "The key's role is below the one needed"}}
# Why a hold was refused -> the HTTP status that says it
STATUS = {"not_found": 404, "too_long": 422, "ended": 409}


def _key_id(request: Request) -> int | None:
    """The caller's key id as stored on a hold: None for the bootstrap admin key."""
    key_id = request.state.key_id
    return None if key_id == BOOTSTRAP else key_id


def _public(hold: Hold, program: Program, key_id: int | None) -> HoldPublic:
    mine = hold.key_id == key_id
    return HoldPublic(
        **hold.model_dump(exclude={"key_id", "note"}),
        program_name=program.name,
        site_id=program.site_id,
        note=hold.note if mine else None,
        mine=mine,
    )


def _refused(refused: holds.HoldRefused) -> HTTPException:
    return HTTPException(STATUS.get(refused.code, 409), str(refused))


@router.post(
    "/programs/{program_id}/holds",
    response_model=HoldPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        **FORBIDDEN,
        404: {"model": Error, "description": "No such program"},
        409: {"model": Error, "description": "No free place, no count yet, or not accepting"},
    },
)
def place_hold(
    program_id: RowId,
    body: HoldCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _role: OutreachDep,
) -> HoldPublic:
    """Hold one free place until the person arrives or the hold expires. The note is for the
    desk ("arriving by bus, has a walker"): never a name or anything else about the person."""
    key_id = _key_id(request)
    try:
        hold = holds.place(session, settings, program_id, key_id, body.minutes, body.note)
    except holds.HoldRefused as refused:
        raise _refused(refused) from None
    return _public(hold, session.get(Program, program_id), key_id)


@router.get("/holds", response_model=HoldList, responses=FORBIDDEN)
def list_holds(
    request: Request,
    session: SessionDep,
    role: OutreachDep,
    scope: Annotated[Literal["mine", "all"], Query(description="all: city and admin")] = "mine",
    state: HoldState = HoldState.active,
) -> HoldList:
    """The newest holds in `state`, newest first."""
    if scope == "all" and not role.at_least(Role.city):
        raise HTTPException(403, f"this needs the role city or above; the key is {role}")
    key_id = _key_id(request)
    query = select(Hold, Program).join(Program, Program.id == Hold.program_id)
    if scope == "mine":
        query = query.where(col(Hold.key_id).is_(None) if key_id is None else Hold.key_id == key_id)
    # an active hold whose time is up leaves the list before the sweep marks it expired
    wanted = holds.active(utcnow()) if state == HoldState.active else Hold.state == state
    query = query.where(wanted)
    rows = session.exec(query.order_by(col(Hold.id).desc()).limit(LISTED)).all()
    return HoldList(items=[_public(hold, program, key_id) for hold, program in rows])


@router.post(
    "/holds/{hold_id}/cancel",
    response_model=HoldPublic,
    responses={
        **FORBIDDEN,
        404: {"model": Error, "description": "No such hold among the key's own"},
        409: {"model": Error, "description": "The hold has ended already"},
    },
)
def cancel_hold(
    hold_id: RowId, request: Request, session: SessionDep, role: OutreachDep
) -> HoldPublic:
    """Let the place go: it is free again at once. Admins may cancel any key's hold."""
    key_id = _key_id(request)
    hold = session.get(Hold, hold_id)
    if hold is None or (hold.key_id != key_id and not role.at_least(Role.admin)):
        raise HTTPException(404, f"no hold with id {hold_id} among this key's holds")
    try:
        holds.end(session, hold, HoldState.cancelled)
    except holds.HoldRefused as refused:
        raise _refused(refused) from None
    session.commit()
    session.refresh(hold)
    return _public(hold, session.get(Program, hold.program_id), key_id)
