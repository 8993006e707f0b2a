"""The web dial: its page at /dial/{device_id} and its API under /api/v1/dial/{device_id}.

Staff send the dial's secret as `Authorization: Bearer <secret>`. A save becomes a `state`
message of the dial, built by the firmware's encoder and sent through the broker to the
ingestor like a hardware dial's; the answer is the ingestor's: saved, rejected (with its
reason) or pending (no answer yet: PUT the same commit again, which is idempotent).
The page comes in the reader's language, chosen as the map's (map/i18n.py).
docs/web-dial.md says more.
"""

import logging
import math
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, StrictInt
from sqlmodel import Session, select

from firmware.dialcore import protocol
from map.i18n import catalogues
from map.render import render
from server import alerts, credentials, holds
from server.api.csp import page_headers
from server.api.deps import CHALLENGE, SessionDep, SettingsDep
from server.api.routes.pages import LangQuery, in_language
from server.api.schemas import Error
from server.devices import config_message
from server.models import Device, DeviceChannel, Program, Role, utcnow
from server.queries import sites
from server.shapes import Freshness
from server.webdial import ID_PREFIX, STATIC_DIR, TEMPLATE_DIR, is_web_dial
from server.webdial.lockout import Lockout
from server.webdial.numbering import Numbering
from server.webdial.send import PENDING, send

log = logging.getLogger(__name__)
EARLIEST_TS = 1_500_000_000  # the protocol's earliest commit time (2017), as state.schema.json
LATEST_TS = 4_102_444_800  # 2100-01-01: any later ts is a corrupted commit, not a slow retry


@asynccontextmanager
async def _lifespan(app: FastAPI):
    app.state.web_dial_numbering = Numbering()
    app.state.web_dial_lockout = Lockout()
    yield


router = APIRouter(prefix="/dial", tags=["web dial"], lifespan=_lifespan)
pages = APIRouter(include_in_schema=False)
pages.mount("/dial/assets", StaticFiles(directory=STATIC_DIR), name="dial-assets")
# A scheme of its own: the rest of the API reads API keys from the same header.
_bearer = HTTPBearer(
    scheme_name="WebDialSecret",
    auto_error=False,
    description="The web dial's secret: `Authorization: Bearer <secret>`",
)


class DialHold(BaseModel):
    id: int
    code: str  # what the outreach worker reads out
    note: str | None  # for the desk ("arriving by bus"): never a name
    expires_at: datetime


class DialChannel(BaseModel):
    channel: int
    label: str
    capacity: int
    holds: list[DialHold] = Field(description="Places held for people on their way")
    count: int | None = Field(description="In the dial's mode; null before the first reading")
    updated_at: datetime | None
    freshness: Freshness
    # A surge or warming program (server/alerts.py) is counted only while it is open
    is_open: bool = Field(description="False: a closed surge or warming program; no counts")
    opens_with_alert: str | None = Field(description="The alert kind that opens it, if any")
    window_start: str | None = Field(description="Its daily window (HH:MM), if it has one")
    window_end: str | None
    open_for: str | None = Field(description="The alert it is open for, when open by one")
    open_until: datetime | None = Field(description="When that window ends")


class DialView(BaseModel):
    device_id: str
    shelter: str
    mode: Literal["occupied", "free"] = Field(description="What the counts mean")
    channels: list[DialChannel]


TurnAwayReason = Literal[protocol.TURN_AWAY_REASONS]
TurnedAway = list[dict[TurnAwayReason, Annotated[int, Field(ge=1, le=2**31 - 1)]]]


class TurnAwayTap(BaseModel):
    channel: int = Field(ge=0, le=7)
    reason: TurnAwayReason
    id: str = Field(
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9-]+$",
        description="Made by the page for this tap: a tap sent again is counted once",
    )


class HoldEnd(BaseModel):
    channel: int = Field(ge=0, le=7)
    hold_id: int = Field(ge=1, le=2**31 - 1)
    how: Literal["arrived", "released"]


HoldsEnded = list[dict[str, Literal["arrived", "released"]]]


class NewCommit(BaseModel):
    counts: list[StrictInt] = Field(
        min_length=1, max_length=8, description="One count per channel, in the dial's mode"
    )
    turn_away: TurnAwayTap | None = Field(
        default=None, description="One person turned away: saved with the counts, once"
    )
    end_hold: HoldEnd | None = Field(
        default=None,
        description="A hold the desk ends with these counts: arrived (count the person in "
        "the counts sent) or released",
    )


class RepeatedCommit(BaseModel):
    counts: list[StrictInt] = Field(min_length=1, max_length=8)
    ts: int | None = Field(ge=EARLIEST_TS, le=LATEST_TS, description="`ts` of the first answer")
    turned_away: TurnedAway | None = Field(
        default=None, max_length=8, description="`turned_away` of the first answer"
    )
    holds_ended: HoldsEnded | None = Field(
        default=None, max_length=8, description="`holds_ended` of the first answer"
    )


class Commit(BaseModel):
    boot: int
    seq: int
    ts: int | None = Field(description="Server time of the save, Unix seconds")
    counts: list[int]
    turned_away: TurnedAway = Field(
        description="The running turn-away totals per channel this commit carries"
    )
    holds_ended: HoldsEnded = Field(default_factory=list, description="Holds it ends")
    result: Literal["saved", "rejected", "pending"] = Field(
        description="pending: not confirmed yet; PUT the same commit again"
    )
    reason: str | None
    code: Literal[tuple(PENDING)] | None = Field(
        default=None,
        description="Why a commit is pending, as a word the page translates; the ingestor's "
        "reasons for a rejection have none",
    )


@dataclass
class Dial:
    device: Device
    secret: str


def _authorised(
    device_id: str,
    request: Request,
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Dial:
    """The web dial `device_id`, if the request carries its secret."""
    lockout: Lockout = request.app.state.web_dial_lockout
    key = (device_id, request.client.host if request.client else "")
    if wait_s := lockout.wait_s(key):
        raise HTTPException(
            429,
            f"too many wrong secrets for {device_id}: try again in {math.ceil(wait_s / 60)} min",
            headers={"Retry-After": str(wait_s)},
        )
    if bearer is None:
        raise HTTPException(
            401, "send the dial's secret as 'Authorization: Bearer <secret>'", headers=CHALLENGE
        )
    device = session.get(Device, device_id)
    if device is None or not credentials.verify(bearer.credentials, device.secret_hash):
        lockout.failed(key)
        log.warning("wrong web dial secret for %s from %s", device_id, key[1])
        raise HTTPException(401, f"no dial {device_id} with this secret", headers=CHALLENGE)
    lockout.succeeded(key)
    if not is_web_dial(device_id):
        raise HTTPException(
            403, f"{device_id} is a hardware dial; web dials have ids starting with {ID_PREFIX!r}"
        )
    return Dial(device, bearer.credentials)


DialDep = Annotated[Dial, Depends(_authorised)]
ERRORS = {
    401: {"model": Error, "description": "No secret, or not this dial's"},
    403: {"model": Error, "description": "A hardware dial: it numbers its own commits"},
    429: {"model": Error, "description": "Too many wrong secrets from here: see Retry-After"},
}


def _config(session: Session, device: Device) -> dict:
    """What a hardware dial would show: the config message the server sends it."""
    _topic, payload = config_message(session, device)
    return protocol.decode_config(payload)


@router.get("/{device_id}", response_model=DialView, responses=ERRORS)
def view(dial: DialDep, session: SessionDep, settings: SettingsDep) -> DialView:
    """The dial's channels with their current counts, as the availability API has them."""
    device = dial.device
    config = _config(session, device)
    paired = dict(
        session.exec(
            select(DeviceChannel.channel, DeviceChannel.program_id).where(
                DeviceChannel.device_id == device.id
            )
        ).all()
    )
    # The site's own staff: a confidential site's counts too, as outreach sees them (this
    # answer never carries a location anyway).
    found = sites(session, settings, {device.site_id}, Role.outreach) if device.site_id else []
    programs = {program.id: program for site in found for program in site.programs}
    held = holds.for_desk(session, list(paired.values()))
    channels = []
    for number, (label, capacity) in enumerate(config["channels"]):
        program = programs.get(paired.get(number))
        count = None
        if program is not None and program.occupied is not None:
            # the count the dial sent: the ingestor stored occupied = capacity - count in
            # free mode (so out-of-service beds do not enter into it)
            free = program.capacity - program.occupied
            count = program.occupied if device.mode == "occupied" else free
        channels.append(
            DialChannel(
                channel=number,
                label=label,
                capacity=capacity,
                holds=[
                    DialHold(id=h.id, code=h.code, note=h.note, expires_at=h.expires_at)
                    for h in held.get(paired.get(number), [])
                ],
                count=count,
                updated_at=program.updated_at if program else None,
                freshness=program.freshness if program else "unknown",
                # open or not as the availability query has it (server/alerts.py opening)
                is_open=program.is_open if program else True,
                opens_with_alert=program.opens_with_alert if program else None,
                window_start=program.window_start if program else None,
                window_end=program.window_end if program else None,
                open_for=program.open_for if program else None,
                open_until=program.open_until if program else None,
            )
        )
    return DialView(
        device_id=device.id, shelter=config["shelter"], mode=device.mode, channels=channels
    )


@router.post(
    "/{device_id}/commits",
    response_model=Commit,
    responses={202: {"model": Commit, "description": "Sent, not confirmed yet"}, **ERRORS},
)
def new_commit(
    body: NewCommit,
    dial: DialDep,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> Commit:
    """Save new counts for every channel: numbered, sent and stored like a dial's commit."""
    broker = _broker(request)
    capacities = _capacities(session, dial.device, body.counts)
    numbering: Numbering = request.app.state.web_dial_numbering
    tap = body.turn_away
    for field, asked in (("turn_away", tap), ("end_hold", body.end_hold)):
        if asked is not None and asked.channel >= len(capacities):
            message = f"{dial.device.id} has no channel {asked.channel}"
            raise RequestValidationError([{"loc": ("body", field, "channel"), "msg": message}])
    if tap is not None and (why := _closed(session, settings, dial.device, tap.channel)):
        raise RequestValidationError([{"loc": ("body", "turn_away", "channel"), "msg": why}])
    boot, seq = numbering.next(session, dial.device.id)
    turned = numbering.turned(
        dial.device.id, boot, len(capacities), tap and (tap.channel, tap.reason, tap.id)
    )
    ts = int(time.time())
    ended = []
    if body.end_hold is not None:
        end = body.end_hold
        ended = [{} for _ in capacities]
        ended[end.channel] = {str(end.hold_id): end.how}
    commit = Commit(
        boot=boot, seq=seq, ts=ts, counts=body.counts, turned_away=turned, holds_ended=ended,
        result="pending", reason=None,
    )  # fmt: skip
    payload = _state(dial.device, commit, capacities)
    return _send(session, broker, dial, commit, payload, response)


@router.put(
    "/{device_id}/commits/{boot}/{seq}",
    response_model=Commit,
    responses={
        202: {"model": Commit, "description": "Sent, not confirmed yet"},
        404: {"model": Error},
        **ERRORS,
    },
)
def repeat_commit(
    boot: int,
    seq: int,
    body: RepeatedCommit,
    dial: DialDep,
    session: SessionDep,
    request: Request,
    response: Response,
) -> Commit:
    """Send a pending commit again: stored at most once, answered every time."""
    numbering: Numbering = request.app.state.web_dial_numbering
    if not numbering.issued(dial.device, boot, seq):
        raise HTTPException(404, f"no commit ({boot}, {seq}) was handed out to {dial.device.id}")
    broker = _broker(request)
    capacities = _capacities(session, dial.device, body.counts)
    commit = Commit(
        boot=boot, seq=seq, ts=body.ts, counts=body.counts,
        turned_away=body.turned_away or [], holds_ended=body.holds_ended or [],
        result="pending", reason=None,
    )  # fmt: skip
    payload = _state(dial.device, commit, capacities)
    return _send(session, broker, dial, commit, payload, response)


@pages.get("/dial/{device_id}", response_class=HTMLResponse, responses={404: {"model": Error}})
def page(device_id: str, request: Request, lang: LangQuery = None) -> HTMLResponse:
    """The page, in the reader's language as the map chooses it (`?lang=fr`, remembered)."""
    if not is_web_dial(device_id):
        raise HTTPException(404, f"no web dial {device_id!r}: their ids start with {ID_PREFIX!r}")
    return in_language(request, lang, _page)


@cache
def _page(lang: str) -> tuple[str, dict[str, str]]:
    strings = catalogues()[lang]
    # only the dial's own words: the map's would be sent to every phone for nothing
    config = {"lang": lang, "strings": {k: v for k, v in strings.items() if k.startswith("dial.")}}
    # the reasons behind "not eligible", in the dial's order ("reason not said" first)
    reasons = [r for r in protocol.TURN_AWAY_REASONS if r.startswith("not_eligible")]
    html = render("dial.html", lang, TEMPLATE_DIR, config=config, reasons=reasons)
    return html, page_headers(html)


def _closed(session: Session, settings, device: Device, channel: int) -> str | None:
    """Why channel `channel` of `device` takes no counts now (a closed surge or warming
    program), or None when it is open."""
    paired = session.exec(
        select(DeviceChannel).where(
            DeviceChannel.device_id == device.id, DeviceChannel.channel == channel
        )
    ).first()
    if paired is None:
        return None
    opening = alerts.openings(session, [paired.program_id], utcnow(), settings.zone)
    if opening.get(paired.program_id, alerts.ALWAYS).is_open:
        return None
    kind = session.get(Program, paired.program_id).opens_with_alert
    label = f"channel {channel} ({paired.label})"
    return f"{label} is closed: it opens only while a {kind!r} alert is on"


def _broker(request: Request) -> tuple[str, Path | None]:
    """The broker's URL and the CA its certificate must chain to (for mqtts://)."""
    settings = request.app.state.settings
    url = request.app.state.mqtt_url
    if url is None:
        raise HTTPException(503, "the web dial needs the MQTT broker: set SIGNAL_MQTT_URL")
    return url, settings.mqtt_ca_file


def _capacities(session: Session, device: Device, counts: list[int]) -> list[int]:
    """The capacity each count is taken against: the dial's config, as a hardware dial's."""
    capacities = [capacity for _label, capacity in _config(session, device)["channels"]]
    if len(counts) != len(capacities):
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "counts"),
                    "msg": f"{device.id} has {len(capacities)} channels, got {len(counts)} counts",
                }
            ]
        )
    return capacities


def _state(device: Device, commit: Commit, capacities) -> bytes:
    """The dial's `state` message, by the firmware's own encoder."""
    channels = list(zip(commit.counts, capacities, strict=True))
    return protocol.encode_state(
        commit.boot,
        commit.seq,
        device.mode,
        device.config_version,
        channels,
        commit.ts,
        "web",
        _extra(commit, len(channels)),
    )


def _extra(commit: Commit, channels: int) -> list[dict]:
    """Per channel, the state's fields beyond count and capacity (protocol.encode_state)."""
    extra: list[dict] = [{} for _ in range(channels)]
    for key, values in (("turned_away", commit.turned_away), ("holds_ended", commit.holds_ended)):
        for number, value in enumerate(values[:channels]):
            if value:
                extra[number][key] = value
    return extra


def _send(session: Session, broker, dial: Dial, commit: Commit, payload, response) -> Commit:
    device_id = dial.device.id
    session.close()  # all is read: hold no database connection while broker and ingestor work
    url, ca_file = broker
    answer = send(url, device_id, dial.secret, commit.boot, commit.seq, payload, ca_file)
    if answer.result == "pending":
        response.status_code = 202
    return commit.model_copy(
        update={"result": answer.result, "reason": answer.reason, "code": answer.code}
    )
