"""City alerts (docs/api.md): an Extreme Cold Weather Alert, say, opens every program tied to
its kind at their next window; ending it closes them after their window."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel
from sqlmodel import Field, SQLModel, col, select

from server import alerts
from server.api.deps import KEY_OPTIONAL, CityDep, RowId, SessionDep
from server.api.schemas import Error
from server.models import ALERT_KIND, Alert, Program, utcnow

router = APIRouter(prefix="/alerts", tags=["alerts"])
LISTED = 200  # alerts a list shows, newest first: years of a city's cold alerts


class AlertCreate(SQLModel):
    kind: str = Field(schema_extra={"pattern": ALERT_KIND}, description="e.g. cold, heat")
    name: str = Field(min_length=1, max_length=100, description="What the map says")


class AlertPublic(BaseModel):
    id: int
    kind: str
    name: str
    started_at: datetime
    ended_at: datetime | None
    programs: int  # programs tied to its kind


class AlertList(BaseModel):
    items: list[AlertPublic]


def _public(session, alert: Alert) -> AlertPublic:
    tied = select(Program.id).where(Program.opens_with_alert == alert.kind)
    return AlertPublic(**alert.model_dump(), programs=len(session.exec(tied).all()))


def _tied_changed(session, kind: str) -> None:
    tied = set(session.exec(select(Program.id).where(Program.opens_with_alert == kind)))
    if tied:
        alerts.programs_changed(session, tied, utcnow())


@router.get("", response_model=AlertList, openapi_extra=KEY_OPTIONAL)
def list_alerts(
    session: SessionDep,
    on: Annotated[bool, Query(description="Only alerts on now")] = False,
) -> AlertList:
    """Alerts, newest first: what was on when (public: an alert is public news)."""
    query = select(Alert).order_by(col(Alert.id).desc()).limit(LISTED)
    if on:
        query = query.where(col(Alert.ended_at).is_(None))
    return AlertList(items=[_public(session, a) for a in session.exec(query)])


@router.post(
    "",
    response_model=AlertPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": AlertPublic, "description": "One of its kind is on already: it"},
        403: {"model": Error},
    },
)
def start_alert(
    body: AlertCreate, session: SessionDep, response: Response, _role: CityDep
) -> AlertPublic:
    """Start an alert now: the programs tied to its kind open at their next window. While
    one of its kind is on, that one is the answer (200): two staff starting it is one alert."""
    on = select(Alert).where(Alert.kind == body.kind, col(Alert.ended_at).is_(None))
    running = session.exec(on).first()
    if running is not None:
        response.status_code = status.HTTP_200_OK
        return _public(session, running)
    alert = Alert(kind=body.kind, name=body.name)
    session.add(alert)
    _tied_changed(session, body.kind)
    session.commit()
    session.refresh(alert)
    return _public(session, alert)


@router.post(
    "/{alert_id}/end",
    response_model=AlertPublic,
    responses={403: {"model": Error}, 404: {"model": Error}},
)
def end_alert(alert_id: RowId, session: SessionDep, _role: CityDep) -> AlertPublic:
    """End it now: its programs close after the window they are in; ending again changes
    nothing."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise HTTPException(404, f"no alert with id {alert_id}")
    if alert.ended_at is None:
        alert.ended_at = utcnow()
        session.add(alert)
        _tied_changed(session, alert.kind)
        session.commit()
        session.refresh(alert)
    return _public(session, alert)
